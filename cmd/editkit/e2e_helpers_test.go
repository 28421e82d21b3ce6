package main

// End-to-end tests run the built editkit binary the way a user does, against
// real files and file systems (tmpfs, exFAT through FUSE, a fault-injecting
// FUSE drive). Helpers here build the binary, run it, mount file systems and
// compare trees.

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/slowtest"
	"github.com/editkit/editkit/internal/testmount"
	"github.com/editkit/editkit/internal/walk"
	"github.com/zeebo/blake3"
)

var editkitBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "editkit-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	editkitBin = filepath.Join(dir, "editkit")
	// Built with the race detector (as the unit tests run), so the
	// end-to-end runs also check the concurrent code they drive; -short
	// builds without it for speed. The test hooks (testhooks_on.go) are
	// compiled in and stay inert unless a test sets their variables.
	args := []string{"build", "-race", "-tags", "editkit_testhooks", "-o", editkitBin, "."}
	if testing.Short() {
		args = []string{"build", "-tags", "editkit_testhooks", "-o", editkitBin, "."}
	}
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building editkit:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need fails or skips the test when a prerequisite is missing, saying which.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		slowtest.Missing(t, what)
	}
}

func needRoot(t *testing.T) { need(t, os.Geteuid() == 0, "root (for mount, losetup)") }

func needTool(t *testing.T, name string) {
	_, err := exec.LookPath(name)
	need(t, err == nil, name+" on PATH")
}

// long marks tests that take more than a few seconds.
func long(t *testing.T) {
	slowtest.Skip(t, "long end-to-end test")
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// editkit runs the binary to completion.
func editkit(t *testing.T, args ...string) result {
	t.Helper()
	return editkitEnv(t, nil, args...)
}

func editkitEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, editkitBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("editkit %v: %v", args, err)
	}
	return r
}

// startEditkit starts the binary and returns at once.
func startEditkit(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	return startEditkitEnv(t, nil, args...)
}

// startEditkitEnv starts the binary with extra environment and returns at once.
func startEditkitEnv(t *testing.T, env []string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(editkitBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out
}

// syncBuffer collects a running process's output; safe to read meanwhile.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// generate makes a sample media tree.
func generate(t *testing.T, dir string, o samplemedia.Options) samplemedia.Stats {
	t.Helper()
	st, err := samplemedia.Generate(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fileHashes returns BLAKE3 and mtime of every regular file under root that
// a copy takes (walk's default rules), keyed by tree path.
func fileHashes(t *testing.T, root string, rules walk.Rules) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := walk.Walk(context.Background(), root, rules, walk.Visitor{
		File: func(e walk.Entry) error {
			f, err := os.Open(filepath.Join(root, filepath.FromSlash(e.Path)))
			if err != nil {
				return err
			}
			defer f.Close()
			h := blake3.New()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
			out[e.Path] = fmt.Sprintf("%x %d", h.Sum(nil), e.Size)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// destRules leaves out what editkit itself keeps on a drive.
var destRules = walk.Rules{IncludeAvidDB: true, Internal: map[string]string{"/ascmhl/": "history"}}

// assertCopied checks that dst holds exactly the files of src that a copy
// takes, bit for bit, with their mtimes.
func assertCopied(t *testing.T, src, dst string) {
	t.Helper()
	want := fileHashes(t, src, walk.Rules{Internal: map[string]string{"/ascmhl/": "history"}})
	got := fileHashes(t, dst, destRules)
	for p, h := range want {
		if got[p] != h {
			t.Errorf("%s: %s on the destination, want %s", p, got[p], h)
			continue
		}
		si, _ := os.Stat(filepath.Join(src, p))
		di, _ := os.Stat(filepath.Join(dst, p))
		if d := si.ModTime().Sub(di.ModTime()); d < -10*time.Millisecond || d > 10*time.Millisecond {
			t.Errorf("%s: mtime %v on the destination, source has %v", p, di.ModTime(), si.ModTime())
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: on the destination but not in the source", p)
		}
	}
	assertNoTemps(t, dst)
}

// assertNoTemps checks no temporary file is left anywhere under root.
func assertNoTemps(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), walk.TempPrefix) {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// mountTmpfs mounts a size-limited tmpfs for disk-full tests; size may
// carry more tmpfs options ("64m,nr_inodes=150").
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	return testmount.Tmpfs(t, "size="+size)
}

// mountExfat formats an image as exFAT and mounts it through exfat-fuse on a
// loop device, the way editors' drives are formatted.
func mountExfat(t *testing.T, size string) string {
	t.Helper()
	needRoot(t)
	needTool(t, "mkfs.exfat")
	needTool(t, "mount.exfat-fuse")
	needTool(t, "losetup")
	work := t.TempDir()
	img := filepath.Join(work, "drive.img")
	mnt := filepath.Join(work, "EDITOR1")
	os.Mkdir(mnt, 0o755)
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			need(t, false, fmt.Sprintf("%s %v: %v: %s", name, args, err, out))
		}
		return strings.TrimSpace(string(out))
	}
	run("truncate", "-s", size, img)
	run("mkfs.exfat", "-L", "EDITOR1", img)
	loop := run("losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	run("mount.exfat-fuse", loop, mnt)
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if exec.Command("umount", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		exec.Command("umount", "-l", mnt).Run()
	})
	return mnt
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitsWith waits for an editkit started with startEditkit to exit with
// code want. One still running after limit hangs: the test fails saying
// so (hung), after unstick, if given, has freed it.
func exitsWith(t *testing.T, cmd *exec.Cmd, out *syncBuffer, want int, limit time.Duration, hung string, unstick func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != want {
			t.Fatalf("exit %d, want %d:\n%s", code, want, out.String())
		}
	case <-time.After(limit):
		if unstick != nil {
			unstick()
		}
		t.Fatalf("%s:\n%s", hung, out.String())
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1000
	}
	return 0
}

// largestMXF returns the tree path of the biggest .mxf file under root.
func largestMXF(t *testing.T, root string) string {
	t.Helper()
	var best string
	var size int64
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mxf") && !strings.HasPrefix(d.Name(), "._") {
			if fi, _ := d.Info(); fi.Size() > size {
				size, best = fi.Size(), p
			}
		}
		return nil
	})
	rel, _ := filepath.Rel(root, best)
	return filepath.ToSlash(rel)
}

// envValue returns the value of key in an environment list, or "".
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, key+"="); ok {
			v = rest
		}
	}
	return v
}

// backupLockHeld reports whether a backup of set holds its lock in the
// state folder of env: the lock file explains its holder while held and is
// emptied on a clean exit. Tests order steps on it instead of sleeping.
func backupLockHeld(env []string, set string) bool {
	fi, err := os.Stat(filepath.Join(envValue(env, "EDITKIT_STATE_DIR"), "locks", "backup-"+set+".lock"))
	return err == nil && fi.Size() > 0
}

// trackerRows reads the local CSV tracker's log.
func trackerRows(t *testing.T, state string) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "tracker", "log.csv"))
	if err != nil {
		return nil
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil {
		t.Fatalf("log.csv: %v", err)
	}
	return rows
}

func countRows(rows [][]string, action string) int {
	n := 0
	for _, r := range rows {
		if len(r) > 4 && r[4] == action {
			n++
		}
	}
	return n
}
