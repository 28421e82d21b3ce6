//go:build linux

package main

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/testfs"
)

// A drive whose file system returns I/O errors for some files: each one is
// reported, the rest is verified, exit 1.
func TestVerifyReportsIOErrorsAndGoesOn(t *testing.T) {
	long(t)
	needRoot(t)
	_, backing := preparedDrive(t, 23, 16<<20)
	drive := testfs.MustMount(t, backing)
	victim := largestMXF(t, backing)
	drive.FailReads(filepath.Base(victim), 8192, syscall.EIO)
	v, r := runVerify(t, "--read-only", drive.Dir)
	if r.code != 1 {
		t.Fatalf("failing reads: %s", r)
	}
	if got := kinds(v); !slices.Equal(got, []string{"read-error " + victim}) {
		t.Errorf("problems %q", got)
	}
	if v.Verified != v.Files-1 {
		t.Errorf("verified %d of %d; every other file should have been checked", v.Verified, v.Files)
	}
}

// A file that cannot be read: the run appends no ASC MHL generation (its
// directory hashes would describe a tree it did not see), while a run that
// only finds changed files does (see TestMHLVerifyAppendsFailures).
func TestVerifyReadErrorAppendsNoGeneration(t *testing.T) {
	long(t)
	needRoot(t)
	_, backing := preparedDrive(t, 29, 8<<20)
	drive := testfs.MustMount(t, backing)
	victim := largestMXF(t, backing)
	drive.FailReads(filepath.Base(victim), 8192, syscall.EIO)
	before := historyFiles(t, drive.Dir)
	r := editkit(t, "verify", drive.Dir)
	if r.code != 1 || !strings.Contains(r.stdout, "read-error") {
		t.Fatalf("failing reads: %s", r)
	}
	if after := historyFiles(t, drive.Dir); !maps.Equal(before, after) {
		t.Errorf("a verify that could not read a file changed the ASC MHL history:\nbefore %v\nafter  %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
}

// A drive unplugged in the middle of a verify: the run ends with errors,
// promptly, instead of hanging.
func TestVerifyDriveUnpluggedMidRun(t *testing.T) {
	needRoot(t)
	long(t)
	_, backing := preparedDrive(t, 24, 400<<20)
	drive := testfs.MustMount(t, backing)
	cmd, out := startEditkit(t, "verify", "--read-only", "--jobs", "1", drive.Dir)
	waitFor(t, 30*time.Second, "the verify to start reading", func() bool { return drive.Stats().BytesRead > 20<<20 })
	drive.Unmount()
	exitsWith(t, cmd, out, 1, 2*time.Minute, "verify hung after the drive was unplugged", nil)
	if !strings.Contains(out.String(), "read-error") && !strings.Contains(out.String(), "missing") {
		t.Errorf("no errors reported:\n%s", out.String())
	}
}

// A drive that stops answering (reads block in the kernel): verify gives
// up after --stall-timeout and says why, instead of hanging forever.
func TestVerifyGivesUpOnAStalledDrive(t *testing.T) {
	long(t)
	needRoot(t)
	_, backing := preparedDrive(t, 25, 8<<20)
	drive := testfs.MustMount(t, backing)
	drive.StallReads()
	defer drive.Reset()
	cmd, out := startEditkit(t, "verify", "--read-only", "--stall-timeout", "2s", drive.Dir)
	exitsWith(t, cmd, out, 1, 60*time.Second, "verify hung on a stalled drive", drive.Reset)
	if !strings.Contains(out.String(), "stopped responding") {
		t.Errorf("no explanation:\n%s", out.String())
	}
}
