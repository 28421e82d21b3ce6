//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/testfs"
)

// A drive that returns different bytes than were written: the read-back
// catches it, the file never gets its final name on that drive, the other
// drive is unaffected; once the drive behaves, the same command completes.
func TestCopyCatchesCorruptReadBack(t *testing.T) {
	long(t)
	needRoot(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 10, TotalBytes: 16 << 20})
	victim := largestMXF(t, src)
	backing := t.TempDir()
	bad := testfs.MustMount(t, backing)
	good := t.TempDir()
	// The read-back reads the file under its temporary name.
	bad.CorruptReads(offload.TempName(filepath.Base(victim)), 12345)

	r := editkit(t, "copy", "--json", src, bad.Dir, good)
	if r.code != 1 {
		t.Fatalf("copy onto a corrupting drive: %s", r)
	}
	var res offload.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	badRes := res.Destinations[0]
	if len(badRes.Failed) != 1 || badRes.Failed[0].Path != victim || !strings.Contains(badRes.Failed[0].Err, "differs from the source") {
		t.Fatalf("failures on the corrupting drive: %+v", badRes.Failed)
	}
	if _, err := os.Stat(filepath.Join(backing, victim)); !os.IsNotExist(err) {
		t.Errorf("the corrupted copy got its final name: %v", err)
	}
	assertNoTemps(t, backing)
	assertCopied(t, src, good)

	bad.Reset()
	if r := editkit(t, "copy", src, bad.Dir, good); r.code != 0 {
		t.Fatalf("rerun once the drive behaves: %s", r)
	}
	assertCopied(t, src, backing)
}

// --verify=full re-reads the source after the copy and refuses a file that
// changed meanwhile.
func TestCopyVerifyFullCatchesChangingSource(t *testing.T) {
	long(t)
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "Show")
	generate(t, backing, samplemedia.Options{Seed: 11, TotalBytes: 16 << 20})
	victim := largestMXF(t, backing)
	src := testfs.MustMount(t, backing)
	src.ChangeContent(filepath.Base(victim))
	dst := t.TempDir()
	r := editkit(t, "copy", "--verify=full", src.Dir, dst)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "changed while it was being copied") || !strings.Contains(r.stdout+r.stderr, filepath.Base(victim)) {
		t.Fatalf("a source changing during the copy was not caught: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dst, victim)); !os.IsNotExist(err) {
		t.Errorf("the changed file was kept: %v", err)
	}
	assertNoTemps(t, dst)
}

// A drive that starts failing mid-copy (every write EIO) is marked failed and
// the copy goes on to the other drive; exit 1.
func TestCopyDriveFailsMidCopy(t *testing.T) {
	long(t)
	needRoot(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 12, TotalBytes: 64 << 20})
	backing := t.TempDir()
	bad := testfs.MustMount(t, backing)
	bad.FailWritesAfter(20<<20, syscall.EIO)
	good := t.TempDir()
	r := editkit(t, "copy", "--json", src, bad.Dir, good)
	if r.code != 1 {
		t.Fatalf("copy with a failing drive: %s", r)
	}
	var res offload.Result
	json.Unmarshal([]byte(r.stdout), &res)
	if e := res.Destinations[0].Error; !strings.Contains(e, "input/output error") {
		t.Errorf("the failing drive is not reported as failed: %q", e)
	}
	assertCopied(t, src, good)
	// Whatever landed on the failing drive under a final name is right.
	want := fileHashes(t, src, destRules)
	for p, h := range fileHashes(t, backing, destRules) {
		if want[p] != h {
			t.Errorf("%s on the failing drive holds wrong data", p)
		}
	}
}

// A drive unplugged mid-copy: the copy carries on with the other drive,
// says how to resume, and the same command completes the drive once it is
// back.
func TestCopyDriveUnpluggedMidCopy(t *testing.T) {
	needRoot(t)
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 13, TotalBytes: 512 << 20})
	backing := t.TempDir()
	drive := testfs.MustMount(t, backing)
	mountpoint := drive.Dir
	good := t.TempDir()
	cmd, out := startEditkit(t, "copy", "--jobs", "1", src, mountpoint, good)
	waitFor(t, 60*time.Second, "files to land on the drive", func() bool {
		fi, err := os.Stat(filepath.Join(backing, ".editkit", "journal.ekj"))
		return err == nil && fi.Size() > 2000
	})
	if err := drive.Unmount(); err != nil {
		t.Fatal(err)
	}
	exitsWith(t, cmd, out, 1, 5*time.Minute, "copy hung after the drive was unplugged", nil)
	if !strings.Contains(out.String(), "reconnect it and run the same command again") {
		t.Logf("%s", out.String())
		t.Errorf("no advice after the drive disappeared:\n%s", out.String())
	}
	assertCopied(t, src, good)
	if entries, err := os.ReadDir(mountpoint); err == nil && len(entries) > 0 {
		t.Errorf("editkit wrote into the empty mount point of the unplugged drive: %v", entries)
	}

	again, err := testfs.Mount(backing, mountpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Unmount() })
	if r := editkit(t, "copy", src, mountpoint, good); r.code != 0 {
		t.Fatalf("resume after reconnecting: %s", r)
	}
	assertCopied(t, src, backing)
}
