//go:build unix

package main

// End-to-end tests of the placement path (internal/place) as copy, pull,
// restore, verify and drive test use it: nothing written through a link on
// the destination, kill -9 at chosen points then the same command completes
// and leaves nothing behind, a killed copy's temporary files never block
// its resume on a nearly full drive, and names a case-insensitive drive
// cannot hold are reported, never silently lost.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/place"
)

// linkedDrive makes a drive holding Music -> ../home-music, where the
// editor keeps a real cue.wav of their own.
// crashEnv makes the test-hook build of editkit kill itself at a placement
// point: EDITKIT_TEST_CRASH=write:N|settled:N|renamed:N (testhooks_on.go).
const crashEnv = "EDITKIT_TEST_CRASH"

func linkedDrive(t *testing.T) (drive, outside string) {
	t.Helper()
	base := t.TempDir()
	drive, outside = filepath.Join(base, "EDITOR1"), filepath.Join(base, "home-music")
	os.Mkdir(drive, 0o755)
	os.Mkdir(outside, 0o755)
	if err := os.WriteFile(filepath.Join(outside, "cue.wav"), []byte("the editor's own cue"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../home-music", filepath.Join(drive, "Music")); err != nil {
		t.Fatal(err)
	}
	return drive, outside
}

func assertOutsideUntouched(t *testing.T, outside string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(outside, "cue.wav"))
	if err != nil || string(got) != "the editor's own cue" {
		t.Errorf("the file outside the drive was overwritten (now %d bytes): %v", len(got), err)
	}
	entries, _ := os.ReadDir(outside)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 {
		t.Errorf("written outside the drive: %v", names)
	}
}

// Must 2: copy never writes through a link on the destination, and a file
// it refused is counted failed, not copied.
func TestCopyNeverWritesThroughALink(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Music", "cue.wav"), 1<<20, 1)
	writeMedia(t, filepath.Join(src, "Picture", "A001.mxf"), 1<<20, 2)
	drive, outside := linkedDrive(t)
	r := editkit(t, "copy", "--json", src, drive)
	if r.code != 1 {
		t.Fatalf("copy through a link: want exit 1\n%s", r)
	}
	assertOutsideUntouched(t, outside)
	var res offload.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	d := res.Destinations[0]
	if d.Copied != 1 {
		t.Errorf("copied %d, want 1 (only Picture/A001.mxf): %+v", d.Copied, d)
	}
	failed := false
	for _, f := range d.Failed {
		if f.Path == "Music/cue.wav" && strings.Contains(f.Err, "symbolic link") && strings.Contains(f.Err, "run the same command again") {
			failed = true
		}
	}
	if !failed {
		t.Errorf("Music/cue.wav not reported failed with a way out: %+v", d.Failed)
	}
	assertNoTemps(t, drive)
	// The human summary never counts the refused file as copied.
	r = editkit(t, "copy", src, drive)
	if r.code != 1 || strings.Contains(r.stdout+r.stderr, "2 copied") {
		t.Fatalf("second copy:\n%s", r)
	}
	assertOutsideUntouched(t, outside)
}

// Must 2: pull never writes through a link on the drive.
func TestPullNeverWritesThroughALink(t *testing.T) {
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	inbox := t.TempDir()
	writeMedia(t, filepath.Join(inbox, "cue.wav"), 1<<20, 3)
	if r := h.run(t, "push", "--category", "music", "--dest-path", "Music", filepath.Join(inbox, "cue.wav")); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	drive, outside := linkedDrive(t)
	var pl pullOut
	r := h.runJSON(t, &pl, "pull", drive)
	if r.code != 1 || pl.Pulled != 0 {
		t.Fatalf("pull through a link: want exit 1, nothing pulled\n%s", r)
	}
	if !strings.Contains(r.stdout, "symbolic link") {
		t.Errorf("no word of the link:\n%s", r)
	}
	assertOutsideUntouched(t, outside)
	assertNoTemps(t, drive)
}

// Must 2: restore never writes through a link in the restore folder.
func TestRestoreNeverWritesThroughALink(t *testing.T) {
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	src := filepath.Join(t.TempDir(), "Proj")
	writeMedia(t, filepath.Join(src, "Music", "cue.wav"), 1<<20, 4)
	if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	base := t.TempDir()
	to, outside := filepath.Join(base, "Restored"), filepath.Join(base, "home-music")
	os.MkdirAll(filepath.Join(to, "Proj"), 0o755)
	os.Mkdir(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "cue.wav"), []byte("the editor's own cue"), 0o644)
	os.Symlink("../../home-music", filepath.Join(to, "Proj", "Music"))
	if r := h.run(t, "restore", "latest", "--to", to); r.code != 1 {
		t.Fatalf("restore through a link: want exit 1\n%s", r)
	}
	assertOutsideUntouched(t, outside)
	assertNoTemps(t, to)
}

// Must 2 and 7: verify's report and ASC MHL never go through a link, and a
// drive's checksum list and reports are readable by every user.
func TestVerifyReportNeverThroughALink(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Picture", "A001.mxf"), 1<<20, 5)
	drive := t.TempDir()
	old := syscall.Umask(0o077)
	r := editkit(t, "copy", src, drive)
	syscall.Umask(old)
	if r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	for _, p := range []string{".editkit/checksums.b3sum", "ascmhl"} {
		fi, err := os.Stat(filepath.Join(drive, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().IsRegular() && fi.Mode().Perm() != 0o644 {
			t.Errorf("%s is %v; every user's b3sum --check must read it (0644)", p, fi.Mode().Perm())
		}
	}
	reports, _ := filepath.Glob(filepath.Join(drive, ".editkit", "reports", "*"))
	mhls, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "*"))
	for _, p := range append(reports, mhls...) {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s is %v, want 0644", p, fi.Mode().Perm())
		}
	}

	// Someone replaces the reports folder with a link to their home.
	outside := t.TempDir()
	os.RemoveAll(filepath.Join(drive, ".editkit", "reports"))
	os.Symlink(outside, filepath.Join(drive, ".editkit", "reports"))
	r = editkit(t, "verify", drive)
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("verify wrote through the link: %v\n%s", entries, r)
	}
	if r.code == 0 {
		t.Errorf("verify could not write its report, yet exited 0:\n%s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "symbolic link") {
		t.Errorf("no word of the link:\n%s", r)
	}
}

// Must 4: kill -9 of copy on a nearly full drive, then the same command:
// the killed run's temporary file is editkit's own and does not block the
// resume.
func TestCopyResumesOnNearlyFullDrive(t *testing.T) {
	long(t)
	drive := mountTmpfs(t, "100M")
	src := filepath.Join(t.TempDir(), "Show")
	data := writeMedia(t, filepath.Join(src, "Reel 1", "A001.mxf"), 60<<20, 6)
	r := editkitEnv(t, []string{crashEnv + "=write:52428800"}, "copy", src, drive)
	if r.code != -1 && r.code != 137 && r.code != -9 {
		// exec reports a process killed by a signal as exit -1.
		t.Fatalf("the copy was not killed at 50 MiB:\n%s", r)
	}
	temps, _ := filepath.Glob(filepath.Join(drive, "Reel 1", place.TempPrefix+"*"))
	if len(temps) != 1 {
		t.Fatalf("want the killed run's temporary file, found %v", temps)
	}
	if fi, _ := os.Stat(temps[0]); fi.Size() < 50<<20 {
		t.Fatalf("temporary file only %d bytes", fi.Size())
	}
	r = editkit(t, "copy", src, drive)
	if r.code != 0 {
		t.Fatalf("the same command after kill -9 on a nearly full drive:\n%s", r)
	}
	got, _ := os.ReadFile(filepath.Join(drive, "Reel 1", "A001.mxf"))
	if !bytes.Equal(got, data) {
		t.Fatal("copied file differs")
	}
	assertNoTemps(t, drive)
}

// crashPoints are where the crash matrix stops a command with SIGKILL:
// half-way through writing, after a file is synced and read back but not
// renamed, and after a rename that was not yet recorded.
var crashPoints = []string{"write:1572864", "settled:2", "renamed:2"}

func killedByHook(r result) bool { return r.code == -1 || r.code == 137 }

// Crash matrix, copy: kill -9 at each point, then the same command: the
// result is complete, verified, with no temporary file and a consistent
// manifest and ASC MHL history.
func TestCrashMatrixCopy(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	for i := 0; i < 5; i++ {
		writeMedia(t, filepath.Join(src, "Reel 1", fmt.Sprintf("A00%d.mxf", i)), 1<<20+i*4096, byte(10+i))
	}
	for _, point := range crashPoints {
		t.Run(point, func(t *testing.T) {
			state := t.TempDir()
			env := []string{"EDITKIT_STATE_DIR=" + state, "XDG_CONFIG_HOME=" + t.TempDir()}
			drive := t.TempDir()
			r := editkitEnv(t, append(env, crashEnv+"="+point), "copy", "--jobs", "1", src, drive)
			if !killedByHook(r) {
				t.Fatalf("not killed at %s:\n%s", point, r)
			}
			if r := editkitEnv(t, env, "copy", src, drive); r.code != 0 {
				t.Fatalf("the same command after kill -9 at %s:\n%s", point, r)
			}
			assertCopied(t, src, drive)
			if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
				t.Fatalf("verify after the resumed copy: %s", r)
			}
			if mhls, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "*.mhl")); len(mhls) == 0 {
				t.Error("no ASC MHL generation")
			}
			rows := trackerRows(t, state)
			if n := countRows(rows, "copied"); n != 1 {
				t.Errorf("%d copied rows in the tracker, want 1 (the killed run wrote none): %v", n, rows)
			}
		})
	}
}

// Crash matrix, pull, both hubs.
func TestCrashMatrixPull(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		inbox := t.TempDir()
		var files []string
		for i := 0; i < 4; i++ {
			p := filepath.Join(inbox, fmt.Sprintf("VFX_%d.mov", i))
			writeMedia(t, p, 1<<20+i*8192, byte(20+i))
			files = append(files, p)
		}
		if r := h.run(t, append([]string{"push", "--category", "vfx", "--dest-path", "VFX"}, files...)...); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		for i, point := range crashPoints {
			t.Run(point, func(t *testing.T) {
				drive := t.TempDir()
				label := fmt.Sprintf("CRASH%d", i)
				env := append(append([]string{}, h.env...), crashEnv+"="+point)
				r := editkitEnv(t, env, "pull", "--jobs", "1", "--label", label, "--hub", h.url, drive)
				if !killedByHook(r) {
					t.Fatalf("not killed at %s:\n%s", point, r)
				}
				var pl pullOut
				if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 {
					t.Fatalf("the same command after kill -9 at %s:\n%s", point, r)
				}
				for _, p := range files {
					want, _ := os.ReadFile(p)
					got, err := os.ReadFile(filepath.Join(drive, "VFX", filepath.Base(p)))
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s not complete after the resumed pull: %v", p, err)
					}
				}
				assertNoTemps(t, drive)
				if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
					t.Fatalf("verify after the resumed pull: %s", r)
				}
				if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Present != len(files) {
					t.Fatalf("a third pull finds everything there: %s", r)
				}
				// Each file is reported pulled onto this drive exactly once:
				// the killed run recorded nothing it had not finished.
				rows := trackerRows(t, stateOf(h))
				if len(rows) == 0 {
					t.Fatal("no tracker log")
				}
				col := map[string]int{}
				for i, name := range rows[0] {
					col[name] = i
				}
				for _, p := range files {
					n := 0
					for _, row := range rows[1:] {
						if row[col["Action"]] == "pulled" && row[col["Drive"]] == label && row[col["Path"]] == "VFX/"+filepath.Base(p) {
							n++
						}
					}
					if n != 1 {
						t.Errorf("%s: %d pulled rows in the tracker for this drive, want 1", p, n)
					}
				}
			})
		}
	})
}

// Crash matrix, restore, both hubs: and nothing is left in the state
// folder.
func TestCrashMatrixRestore(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := filepath.Join(t.TempDir(), "Proj")
		for i := 0; i < 4; i++ {
			writeMedia(t, filepath.Join(src, "Bins", fmt.Sprintf("Reel %d.avb", i)), 1<<20+i*8192, byte(30+i))
		}
		if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
			t.Fatalf("backup: %s", r)
		}
		state := stateOf(h)
		for _, point := range crashPoints {
			t.Run(point, func(t *testing.T) {
				to := t.TempDir()
				env := append(append([]string{}, h.env...), crashEnv+"="+point)
				r := editkitEnv(t, env, "restore", "latest", "--jobs", "1", "--to", to, "--hub", h.url)
				if !killedByHook(r) {
					t.Fatalf("not killed at %s:\n%s", point, r)
				}
				var rr struct {
					backup.RestoreResult
				}
				if r := h.runJSON(t, &rr, "restore", "latest", "--to", to); r.code != 0 || rr.Restored+rr.Present != 4 {
					t.Fatalf("the same command after kill -9 at %s:\n%s", point, r)
				}
				assertCopied(t, filepath.Dir(src), to)
				if leftovers, _ := filepath.Glob(filepath.Join(state, "restore", "*")); len(leftovers) != 0 {
					t.Errorf("left in the state folder: %v", leftovers)
				}
			})
		}
	})
}

// Must 5: restore of a PATH that matches nothing exits 1 naming it.
func TestRestoreUnmatchedPath(t *testing.T) {
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	src := filepath.Join(t.TempDir(), "Proj")
	writeMedia(t, filepath.Join(src, "Bins", "Reel 1.avb"), 4096, 7)
	if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	r := h.run(t, "restore", "latest", "Proj/Bins/Reel 9.avb", "--to", t.TempDir())
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "Proj/Bins/Reel 9.avb") {
		t.Fatalf("restore of a path not in the snapshot: want exit 1 naming it\n%s", r)
	}
	if r := h.run(t, "restore", "latest", "Proj/Bins/Reel 1.avb", "--to", t.TempDir()); r.code != 0 {
		t.Fatalf("restore of a path in the snapshot: %s", r)
	}
}

// Must 5: a --to that cannot be written is one error, not one per file.
func TestRestoreUnwritableTo(t *testing.T) {
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	src := filepath.Join(t.TempDir(), "Proj")
	for i := 0; i < 20; i++ {
		writeMedia(t, filepath.Join(src, "Bins", fmt.Sprintf("Reel %d.avb", i)), 4096, byte(i))
	}
	if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	ro := mountTmpfs(t, "1M")
	if out, err := exec.Command("mount", "-o", "remount,ro", ro).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	r := h.run(t, "restore", "latest", "--to", ro)
	if r.code == 0 {
		t.Fatalf("restore into a read-only folder succeeded:\n%s", r)
	}
	out := r.stdout + r.stderr
	if n := strings.Count(out, "read-only"); n != 1 || !strings.Contains(out, "--to") {
		t.Fatalf("want one error naming --to, got %d mentions:\n%s", n, r)
	}
}

// Must 5: pull --prune --dry-run lists what it would remove, and removes
// nothing.
func TestPullPruneDryRunLists(t *testing.T) {
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	inbox := t.TempDir()
	writeMedia(t, filepath.Join(inbox, "old.mov"), 8192, 8)
	if r := h.run(t, "push", "--category", "vfx", "--dest-path", "VFX", filepath.Join(inbox, "old.mov")); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	drive := t.TempDir()
	if r := h.run(t, "pull", drive); r.code != 0 {
		t.Fatalf("pull: %s", r)
	}
	if r := h.run(t, "withdraw", "VFX/old.mov"); r.code != 0 {
		t.Fatalf("withdraw: %s", r)
	}
	r := h.run(t, "pull", "--prune", "--dry-run", drive)
	if r.code != 0 || !strings.Contains(r.stdout, "would-remove") || !strings.Contains(r.stdout, "VFX/old.mov") {
		t.Fatalf("pull --prune --dry-run does not list what it would remove:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(drive, "VFX", "old.mov")); err != nil {
		t.Fatalf("the dry run removed it: %v", err)
	}
}

// Must 5: --allow-unportable onto a case-insensitive drive (exFAT) where
// A.mxf and a.mxf collide ends in exit 1 naming the one that was lost, and
// a name the drive cannot hold leaves neither a temporary file nor a file
// under its final name uncounted.
func TestCopyUnportableOntoExfat(t *testing.T) {
	long(t)
	drive := mountExfat(t, "64M")
	src := filepath.Join(t.TempDir(), "Show")
	upper := writeMedia(t, filepath.Join(src, "Clips", "A.mxf"), 1<<20, 40)
	lower := writeMedia(t, filepath.Join(src, "Clips", "a.mxf"), 1<<20, 41)
	writeMedia(t, filepath.Join(src, "Clips", "B.mxf"), 1<<20, 42)
	writeMedia(t, filepath.Join(src, "Clips", `what?.mxf`), 4096, 43)
	r := editkit(t, "copy", "--json", "--allow-unportable", src, drive)
	if r.code != 1 {
		t.Fatalf("copy with colliding names onto exFAT: want exit 1\n%s", r)
	}
	var res offload.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	d := res.Destinations[0]
	failed := map[string]string{}
	for _, f := range d.Failed {
		failed[f.Path] = f.Err
	}
	var lost, kept string
	var keptData []byte
	switch {
	case failed["Clips/a.mxf"] != "" && failed["Clips/A.mxf"] == "":
		lost, kept, keptData = "Clips/a.mxf", "A.mxf", upper
	case failed["Clips/A.mxf"] != "" && failed["Clips/a.mxf"] == "":
		lost, kept, keptData = "Clips/A.mxf", "a.mxf", lower
	default:
		t.Fatalf("want exactly one of A.mxf and a.mxf failed, got %v", failed)
	}
	if !strings.Contains(failed[lost], "cannot keep both") {
		t.Errorf("%s: %q does not say why", lost, failed[lost])
	}
	got, _ := os.ReadFile(filepath.Join(drive, "Clips", kept))
	if !bytes.Equal(got, keptData) {
		t.Errorf("Clips/%s on the drive is not the one reported kept", kept)
	}
	entries, _ := os.ReadDir(filepath.Join(drive, "Clips"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// The name exFAT cannot hold is failed, and nothing of it is left.
	if failed["Clips/what?.mxf"] == "" {
		t.Errorf("Clips/what?.mxf not counted failed: %v (drive holds %v)", failed, names)
	}
	if len(names) != 2 {
		t.Errorf("drive holds %v; want exactly %s and B.mxf", names, kept)
	}
	if d.Copied != 2 {
		t.Errorf("copied %d, want 2", d.Copied)
	}
	assertNoTemps(t, drive)
	if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
		t.Fatalf("verify: the manifest says more than the drive holds: %s", r)
	}
	if !strings.Contains(editkit(t, "copy", "--allow-unportable", src, drive).stdout, "cannot keep both") {
		t.Error("the human summary does not name the collision")
	}
}

// Must 5, restore: a snapshot holding A.mxf and a.mxf restored onto a
// case-insensitive drive (exFAT) ends in exit 1 naming the lost one; the
// other is restored intact, and nothing else is left.
func TestRestoreCollidingNamesOntoExfat(t *testing.T) {
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	src := filepath.Join(t.TempDir(), "Proj")
	upper := writeMedia(t, filepath.Join(src, "A.mxf"), 1<<20, 50)
	lower := writeMedia(t, filepath.Join(src, "a.mxf"), 1<<20, 51)
	if r := h.run(t, "backup", "--set", "proj", src); r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	to := mountExfat(t, "64M")
	var rr struct {
		backup.RestoreResult
	}
	r := h.runJSON(t, &rr, "restore", "latest", "--to", to)
	if r.code != 1 || rr.Restored != 1 || len(rr.Failed) != 1 {
		t.Fatalf("restore of colliding names onto exFAT: want exit 1, 1 restored, 1 failed\n%s", r)
	}
	lost := rr.Failed[0]
	if !strings.Contains(lost.Err, "cannot keep both") {
		t.Errorf("%s: %q does not say why", lost.Path, lost.Err)
	}
	entries, _ := os.ReadDir(filepath.Join(to, "Proj"))
	if len(entries) != 1 {
		t.Fatalf("restore folder holds %v", entries)
	}
	got, _ := os.ReadFile(filepath.Join(to, "Proj", entries[0].Name()))
	want := upper
	if entries[0].Name() == "a.mxf" {
		want = lower
	}
	if lost.Path == "Proj/"+entries[0].Name() || !bytes.Equal(got, want) {
		t.Errorf("the file kept (%s) is not the one reported restored (lost: %s)", entries[0].Name(), lost.Path)
	}
	assertNoTemps(t, to)
}

// Must 2, drive test: a link on the drive named like a killed drive test's
// leftover folder is removed as a link, never followed; the test's own
// files go through the placement path and are gone afterwards.
func TestDriveTestNeverThroughALink(t *testing.T) {
	drive := mountTmpfs(t, "300M")
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "0000.bin"), []byte("the editor's own file"), 0o644)
	os.Symlink(outside, filepath.Join(drive, ".editkit-drivetest-dead"))
	if r := editkit(t, "drive", "test", "--size", "8MiB", drive); r.code != 0 {
		t.Fatalf("drive test: %s", r)
	}
	if got, err := os.ReadFile(filepath.Join(outside, "0000.bin")); err != nil || string(got) != "the editor's own file" {
		t.Fatalf("drive test wrote or removed through a link: %q %v", got, err)
	}
	entries, _ := os.ReadDir(drive)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".editkit-drivetest-") && e.Type()&os.ModeSymlink == 0 {
			t.Errorf("drive test left %s", e.Name())
		}
	}
}

// stateOf is the state folder a test hub's commands use.
func stateOf(h *testHub) string {
	for _, e := range h.env {
		if v, ok := strings.CutPrefix(e, "EDITKIT_STATE_DIR="); ok {
			return v
		}
	}
	return ""
}

// Must 2, verify's ASC MHL: a drive whose ascmhl folder is a link gets no
// generation written through it.
func TestVerifyMHLNeverThroughALink(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Picture", "A001.mxf"), 1<<20, 9)
	drive := t.TempDir()
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	// The history moved off the drive, a link left in its place.
	outside := t.TempDir()
	hist := filepath.Join(outside, "ascmhl")
	if err := os.Rename(filepath.Join(drive, "ascmhl"), hist); err != nil {
		t.Fatal(err)
	}
	os.Symlink(hist, filepath.Join(drive, "ascmhl"))
	before, _ := os.ReadDir(hist)
	r := editkit(t, "verify", drive)
	after, _ := os.ReadDir(hist)
	if len(after) != len(before) {
		t.Fatalf("verify wrote a generation through the link (%d → %d files):\n%s", len(before), len(after), r)
	}
	if r.code == 0 {
		t.Errorf("verify could not record its generation, yet exited 0:\n%s", r)
	}
}
