//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// On Linux a small file is written without a name (O_TMPFILE) and named
// only once its group is synced and read back: a copy killed while the
// group settles leaves neither a final name nor a temporary file on the
// drive (the unnamed files vanish with the process), and the same command
// then copies everything. Where the drive cannot (FUSE exFAT), files have
// their temporary names as before: TestCopySmallFilesOntoExfat.
func TestCopyKilledBeforeNamingLeavesNothing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Project")
	rels := smallTree(t, src, 2, 20)
	env := []string{"EDITKIT_STATE_DIR=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
	drive := t.TempDir()
	r := editkitEnv(t, append(env, crashEnv+"=settled:2"), "copy", "--jobs", "1", "--verify=none", src, drive)
	if !killedByHook(r) {
		t.Fatalf("not killed while settling:\n%s", r)
	}
	if there := atFinalNames(drive, rels); len(there) != 0 {
		t.Errorf("killed before the group was named, yet %d bins have their final names: %v", len(there), there[:min(3, len(there))])
	}
	assertNoTemps(t, drive)
	if r := editkitEnv(t, env, "copy", src, drive); r.code != 0 {
		t.Fatalf("the same command after kill -9:\n%s", r)
	}
	assertCopied(t, src, drive)
}

// A drive that refuses files without a name (exFAT through FUSE) gets
// small files through temporary names and renames, as before.
func TestCopySmallFilesOntoExfat(t *testing.T) {
	long(t)
	drive := mountExfat(t, "64M")
	src := filepath.Join(t.TempDir(), "Project")
	// exFAT keeps times to 10 ms: the source's are whole seconds.
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, rel := range smallTree(t, src, 2, 30) {
		if err := os.Chtimes(filepath.Join(src, filepath.FromSlash(rel)), when, when); err != nil {
			t.Fatal(err)
		}
	}
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy of small files onto exFAT:\n%s", r)
	}
	assertCopied(t, src, drive)
	assertNoTemps(t, drive)
	if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
		t.Fatalf("verify: %s", r)
	}
}
