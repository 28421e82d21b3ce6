//go:build linux

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Issue 12 item 4: a copy of many small files costs close to cp's system
// calls per file. Counted with strace on the real binary, so the figures
// do not depend on how busy the machine is: a group of small files writes
// its manifest records out in one call (not one per file), reads each
// file back with one call after one page drop (not a size query, two
// advices and two reads), and without read-back drops no pages. Per file,
// the copy stats the source once on the walk and fstats it open (not two
// lstats by path), looks the drive root up once per group (not once per
// file), describes the placed file from its descriptor (not by path) and
// keeps plain descriptors on both sides (no fcntl): about 14 file-system
// calls a file, where it made 18 (cp -r makes 11). Each sync waits for the
// drive to flush its cache, so they are counted too: one syncfs makes the
// renames of a group durable in all its folders (not an fsync per
// folder), the three reports share one folder sync, and a new drive's
// identity is written once, with the run's in-progress mark: 40 syncs for
// this copy where it made 46.
func TestCopySmallFilesSystemCallsPerFile(t *testing.T) {
	needTool(t, "strace")
	src := filepath.Join(t.TempDir(), "Project")
	files := len(smallTree(t, src, 3, 100))
	for _, tc := range []struct {
		verify string
		max    map[string]float64 // calls per file
	}{
		// write: the file's bytes, its records' share of one write per
		// group, and the reports, checksum list and ASC MHL at the end.
		// stat: the walk's lstat, the source's fstat before and after
		// reading, the placed file's fstat. all: every call traced.
		// syncs: fsync, fdatasync and syncfs.
		{"dest", map[string]float64{"write": 1.25, "pread64": 1.05, "fadvise64": 1.05, "fcntl": 0.5, "stat": 4.5, "all": 16.5, "syncs": 0.14}},
		{"none", map[string]float64{"write": 1.25, "fadvise64": 0.05, "fcntl": 0.5, "stat": 4.5, "all": 15, "syncs": 0.14}},
	} {
		t.Run(tc.verify, func(t *testing.T) {
			drive := t.TempDir()
			counts := filepath.Join(t.TempDir(), "strace")
			cmd := exec.Command("strace", "-f", "-c", "-o", counts, "-e", "trace="+fileCalls,
				editkitBin, "copy", "--verify="+tc.verify, src, drive)
			cmd.Env = append(os.Environ(), "EDITKIT_STATE_DIR="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("editkit copy under strace: %v\n%s", err, out)
			}
			assertCopied(t, src, drive)
			got := straceCounts(t, counts)
			var all, stat, syncs int
			for call, n := range got {
				if call == "total" {
					continue
				}
				all += n
				if strings.Contains(call, "stat") {
					stat += n
				}
				if strings.Contains(call, "sync") {
					syncs += n
				}
			}
			got["all"], got["stat"], got["syncs"] = all, stat, syncs
			for call, max := range tc.max {
				if per := float64(got[call]) / float64(files); per > max {
					t.Errorf("--verify=%s: %d %s calls for %d files (%.2f a file), want at most %.2f a file", tc.verify, got[call], call, files, per, max)
				}
			}
		})
	}
}

// fileCalls are the system calls a copy makes on files and folders (not
// the Go runtime's own: futex, nanosleep, epoll, memory).
const fileCalls = "openat,open,close,newfstatat,fstat,statx,lstat,stat,fcntl,read,write,pread64,pwrite64,fadvise64," +
	"rename,renameat,renameat2,link,linkat,utimensat,fsync,fdatasync,syncfs,getdents64,mkdirat,unlinkat,fstatfs,statfs,lseek"

// straceCounts reads the calls column of an `strace -c` summary.
func straceCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[0] == "%" || strings.HasPrefix(fields[0], "-") {
			continue
		}
		if n, err := strconv.Atoi(fields[3]); err == nil {
			counts[fields[len(fields)-1]] = n
		}
	}
	return counts
}
