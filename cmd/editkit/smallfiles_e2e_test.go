//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/offload"
)

// Issue 12 items 3 and 4: many small files (an Avid project's bins) are
// placed in batches — written, then synced and read back together, then
// renamed, then each folder synced once. These tests hold the batches to
// the rule of one file: a final name never holds an unsynced or
// unverified file, kill -9 at any point leaves a tree the same command
// completes, and a file that fails, fails alone.

// smallTree writes folders × perFolder bins of 1.5 KB, each different,
// and returns their paths relative to root.
func smallTree(t *testing.T, root string, folders, perFolder int) []string {
	t.Helper()
	var rels []string
	for d := range folders {
		for f := range perFolder {
			rel := fmt.Sprintf("Bins %d/bin %02d.avb", d, f)
			content := []byte(strings.Repeat(fmt.Sprintf("%s ", rel), 1536/len(rel)+1)[:1536])
			p := filepath.Join(root, filepath.FromSlash(rel))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, content, 0o644); err != nil {
				t.Fatal(err)
			}
			rels = append(rels, rel)
		}
	}
	return rels
}

// atFinalNames lists which of rels exist under root at their final names.
func atFinalNames(root string, rels []string) []string {
	var there []string
	for _, rel := range rels {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel))); err == nil {
			there = append(there, rel)
		}
	}
	return there
}

// smallCrashPoints: half-way through writing the bins, after two bins of
// a batch were synced and read back (none renamed yet: the batch renames
// only when all of it is settled), after two were renamed.
var smallCrashPoints = []string{"write:30000", "settled:2", "renamed:2"}

// assertBatchHeld checks what a kill at point left: at "settled", no bin
// of the batch is at its final name yet (each bin placed on its own would
// have been renamed before the next was settled).
func assertBatchHeld(t *testing.T, point, root string, rels []string) {
	t.Helper()
	if strings.HasPrefix(point, "settled") {
		if there := atFinalNames(root, rels); len(there) != 0 {
			t.Errorf("killed while the batch was settling, yet %d bins are at their final names (%v): not placed as a batch", len(there), there[:min(3, len(there))])
		}
	}
}

func TestCrashMatrixSmallFilesCopy(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Project")
	rels := smallTree(t, src, 3, 20)
	for _, point := range smallCrashPoints {
		t.Run(point, func(t *testing.T) {
			env := []string{"EDITKIT_STATE_DIR=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
			drive := t.TempDir()
			r := editkitEnv(t, append(env, crashEnv+"="+point), "copy", "--jobs", "1", src, drive)
			if !killedByHook(r) {
				t.Fatalf("not killed at %s:\n%s", point, r)
			}
			assertBatchHeld(t, point, drive, rels)
			if r := editkitEnv(t, env, "copy", src, drive); r.code != 0 {
				t.Fatalf("the same command after kill -9 at %s:\n%s", point, r)
			}
			assertCopied(t, src, drive)
			assertNoTemps(t, drive)
			if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
				t.Fatalf("verify after the resumed copy: %s", r)
			}
		})
	}
}

func TestCrashMatrixSmallFilesRestore(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := filepath.Join(t.TempDir(), "Project")
		rels := smallTree(t, src, 3, 20)
		if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
			t.Fatalf("backup: %s", r)
		}
		for _, point := range smallCrashPoints {
			t.Run(point, func(t *testing.T) {
				to := t.TempDir()
				env := append(append([]string{}, h.env...), crashEnv+"="+point)
				r := editkitEnv(t, env, "restore", "latest", "--jobs", "2", "--to", to, "--hub", h.url)
				if !killedByHook(r) {
					t.Fatalf("not killed at %s:\n%s", point, r)
				}
				assertBatchHeld(t, point, filepath.Join(to, "Project"), rels)
				var rr struct{ backup.RestoreResult }
				if r := h.runJSON(t, &rr, "restore", "latest", "--to", to); r.code != 0 || rr.Restored+rr.Present != int64(len(rels)) {
					t.Fatalf("the same command after kill -9 at %s:\n%s", point, r)
				}
				assertCopied(t, filepath.Dir(src), to)
				assertNoTemps(t, to)
			})
		}
	})
}

func TestCrashMatrixSmallFilesPull(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		inbox := t.TempDir()
		rels := smallTree(t, inbox, 1, 40)
		var files []string
		for _, rel := range rels {
			files = append(files, filepath.Join(inbox, filepath.FromSlash(rel)))
		}
		if r := h.run(t, append([]string{"push", "--category", "other", "--dest-path", "Bins"}, files...)...); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		var onDrive []string
		for _, p := range files {
			onDrive = append(onDrive, "Bins/"+filepath.Base(p))
		}
		for i, point := range smallCrashPoints {
			t.Run(point, func(t *testing.T) {
				drive := t.TempDir()
				env := append(append([]string{}, h.env...), crashEnv+"="+point)
				r := editkitEnv(t, env, "pull", "--jobs", "2", "--label", fmt.Sprintf("SMALL%d", i), "--hub", h.url, drive)
				if !killedByHook(r) {
					t.Fatalf("not killed at %s:\n%s", point, r)
				}
				assertBatchHeld(t, point, drive, onDrive)
				var pl pullOut
				if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 {
					t.Fatalf("the same command after kill -9 at %s:\n%s", point, r)
				}
				for i, p := range files {
					want, _ := os.ReadFile(p)
					got, err := os.ReadFile(filepath.Join(drive, filepath.FromSlash(onDrive[i])))
					if err != nil || string(got) != string(want) {
						t.Errorf("%s not complete after the resumed pull: %v", onDrive[i], err)
					}
				}
				assertNoTemps(t, drive)
				if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
					t.Fatalf("verify after the resumed pull: %s", r)
				}
			})
		}
	})
}

// A flipped byte in one small blob fails exactly that file, named, in the
// middle of a batch; every other file lands, and nothing is left at the
// damaged file's name.
func TestRestoreSmallFilesDamagedBlobFailsOnlyIt(t *testing.T) {
	hubDir := t.TempDir()
	h := &testHub{name: "folder", url: hubDir, dir: hubDir, env: stateEnv(t)}
	src := filepath.Join(t.TempDir(), "Project")
	rels := smallTree(t, src, 2, 20)
	if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	damaged := "Bins 1/bin 07.avb"
	content, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(damaged)))
	if err != nil {
		t.Fatal(err)
	}
	damageInHub(t, h, content, len(content)/2)
	to := t.TempDir()
	var rr struct{ backup.RestoreResult }
	r := h.runJSON(t, &rr, "restore", "latest", "--to", to)
	if r.code != 1 {
		t.Fatalf("restore with a damaged blob: want exit 1\n%s", r)
	}
	if len(rr.Failed) != 1 || rr.Failed[0].Path != "Project/"+damaged || !strings.Contains(rr.Failed[0].Err, "does not match") {
		t.Fatalf("failed: %+v, want exactly Project/%s, damaged", rr.Failed, damaged)
	}
	if rr.Restored != int64(len(rels)-1) {
		t.Errorf("%d restored, want %d", rr.Restored, len(rels)-1)
	}
	for _, rel := range rels {
		got, err := os.ReadFile(filepath.Join(to, "Project", filepath.FromSlash(rel)))
		if rel == damaged {
			if err == nil {
				t.Errorf("the damaged file is at its final name")
			}
			continue
		}
		want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: not restored right: %v", rel, err)
		}
	}
	assertNoTemps(t, to)
}

// A drive that runs out of room (here: of files, on a tmpfs with few
// inodes) in the middle of a batch of small files: the copy says the
// drive is full, every file at its final name is complete and recorded,
// and once there is room the same command completes.
func TestCopySmallFilesDiskFullMidBatch(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Project")
	smallTree(t, src, 4, 60)
	dst := mountTmpfs(t, "64m,nr_inodes=150")
	r := editkit(t, "copy", "--json", src, dst)
	if r.code != 1 {
		t.Fatalf("copy onto a drive that fills up: want exit 1\n%s", r)
	}
	var res offload.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if !strings.Contains(res.Destinations[0].Error, "is full") {
		t.Errorf("the failure does not say the drive is full: %+v", res.Destinations[0])
	}
	copied := fileHashes(t, dst, destRules)
	want := fileHashes(t, src, destRules)
	if len(copied) == 0 || len(copied) >= len(want) {
		t.Fatalf("%d of %d files on the full drive; the test did not fill it mid-copy", len(copied), len(want))
	}
	for p, h := range copied {
		if want[p] != h {
			t.Errorf("%s holds partial or wrong data after the drive filled", p)
		}
	}
	if out, err := exec.Command("mount", "-o", "remount,nr_inodes=2000", dst).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	if r := editkit(t, "copy", src, dst); r.code != 0 {
		t.Fatalf("the same command with room again:\n%s", r)
	}
	assertCopied(t, src, dst)
	assertNoTemps(t, dst)
	if v, r := runVerify(t, dst); r.code != 0 || !v.OK {
		t.Fatalf("verify: %s", r)
	}
}
