package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/zeebo/blake3"
)

type pushOut struct {
	OK bool `json:"ok"`
	catalog.PushResult
}

type pullOut struct {
	OK bool `json:"ok"`
	catalog.PullResult
}

// writeMedia writes a file of n pseudo-random bytes.
func writeMedia(t *testing.T, path string, n int, seed byte) []byte {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed ^ byte(i>>9)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// New media goes round: pushed once, pulled onto a drive (verified, in its
// manifest, checksum list and MHL history, Avid's databases reset), pushed
// again unchanged, a different file at the same path refused unless
// --replace, status says who has what, a withdrawn item is removed by
// pull --prune — on both kinds of hub.
func TestPushPullStatus(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		inbox := t.TempDir()
		shot := writeMedia(t, filepath.Join(inbox, "VFX_010_v1.mxf"), 3<<20, 1)
		writeMedia(t, filepath.Join(inbox, "music", "Score 1M1.wav"), 200<<10, 2)
		var p pushOut
		if r := h.runJSON(t, &p, "push", "--category", "vfx", "--note", "from Acme", "--dest-path", "Avid MediaFiles/MXF/7", filepath.Join(inbox, "VFX_010_v1.mxf")); r.code != 0 || p.Pushed != 1 {
			t.Fatalf("push: %s", r)
		}
		if r := h.runJSON(t, &p, "push", "--category", "music", "--dest-path", "Music", filepath.Join(inbox, "music")); r.code != 0 || p.Pushed != 1 || p.Items[0].Path != "Music/music/Score 1M1.wav" {
			t.Fatalf("push a folder: %s", r)
		}
		if r := h.runJSON(t, &p, "push", "--category", "vfx", "--dest-path", "Avid MediaFiles/MXF/7", filepath.Join(inbox, "VFX_010_v1.mxf")); r.code != 0 || p.Pushed != 0 || p.Items[0].Status != "unchanged" {
			t.Fatalf("pushing the same content again: %s", r)
		}

		// An editor's drive, prepared by copy, with Avid's databases.
		src := projectTree(t, 40, 4<<20)
		writeMedia(t, filepath.Join(src, "Avid MediaFiles", "MXF", "7", "A001.mxf"), 1000, 3)
		drive := filepath.Join(t.TempDir(), "EDITOR1")
		os.Mkdir(drive, 0o755)
		if r := editkitEnv(t, h.env, "copy", "--include-avid-db", "--label", "Anna", src, drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
		os.WriteFile(filepath.Join(drive, "Avid MediaFiles", "MXF", "7", "msmMMOB.mdb"), []byte("db"), 0o644)

		var pl pullOut
		if r := h.runJSON(t, &pl, "pull", "--dry-run", drive); r.code != 0 || pl.ToPull != 2 {
			t.Fatalf("dry run: %s", r)
		}
		if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 2 {
			t.Fatalf("pull: %s", r)
		}
		got, _ := os.ReadFile(filepath.Join(drive, "Avid MediaFiles", "MXF", "7", "VFX_010_v1.mxf"))
		if !bytes.Equal(got, shot) {
			t.Fatal("pulled file differs from the pushed one")
		}
		if _, err := os.Stat(filepath.Join(drive, "Avid MediaFiles", "MXF", "7", "msmMMOB.mdb")); !os.IsNotExist(err) {
			t.Error("Avid's database in the folder that received media was kept: Avid would not see the new media")
		}
		if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
			t.Fatalf("verify after pull: %s", r)
		}
		xmllintAll(t, filepath.Join(drive, "ascmhl"))
		if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 0 || pl.Present != 2 {
			t.Fatalf("second pull: %s", r)
		}

		// A different file at a catalog path: refused, then replaced.
		v2 := writeMedia(t, filepath.Join(inbox, "v2", "VFX_010_v1.mxf"), 3<<20, 9)
		if r := h.runJSON(t, &p, "push", "--dest-path", "Avid MediaFiles/MXF/7", filepath.Join(inbox, "v2", "VFX_010_v1.mxf")); r.code != 1 || p.Items[0].Status != "refused" {
			t.Fatalf("different content at a catalog path without --replace: %s", r)
		}
		if r := h.runJSON(t, &p, "push", "--replace", "--dest-path", "Avid MediaFiles/MXF/7", filepath.Join(inbox, "v2", "VFX_010_v1.mxf")); r.code != 0 || p.Items[0].Status != "replaced" {
			t.Fatalf("--replace: %s", r)
		}
		// The drive has the old version: a conflict, never overwritten.
		if r := h.runJSON(t, &pl, "pull", drive); r.code != 1 || !strings.Contains(r.stdout, "conflict") {
			t.Fatalf("pull with the old version on the drive: %s", r)
		}
		if got, _ := os.ReadFile(filepath.Join(drive, "Avid MediaFiles", "MXF", "7", "VFX_010_v1.mxf")); !bytes.Equal(got, shot) {
			t.Fatal("pull overwrote a different file")
		}
		_ = v2

		var st catalog.Status
		if r := h.runJSON(t, &st, "status", drive); r.code != 0 || len(st.Items) != 2 || st.Drive == nil || len(st.Drive.Differs) != 1 {
			t.Fatalf("status: %s", r)
		}
		for _, it := range st.Items {
			if it.Path == "Music/music/Score 1M1.wav" && (len(it.Drives) != 1 || it.Drives[0].Label != "Anna" || it.OnDrive != "yes") {
				t.Errorf("status of the music: %+v", it)
			}
		}
		if len(st.Backups) != 0 || len(st.Drives) != 1 {
			t.Errorf("status drives %d backups %d", len(st.Drives), len(st.Backups))
		}

		// Withdrawn media goes from the drive with --prune only.
		if r := h.run(t, "withdraw", "Music/music/Score 1M1.wav"); r.code != 0 {
			t.Fatalf("withdraw: %s", r)
		}
		h.runJSON(t, &pl, "pull", drive)
		if _, err := os.Stat(filepath.Join(drive, "Music", "music", "Score 1M1.wav")); err != nil {
			t.Fatal("pull without --prune deleted media")
		}
		h.runJSON(t, &pl, "pull", "--prune", drive)
		if _, err := os.Stat(filepath.Join(drive, "Music", "music", "Score 1M1.wav")); !os.IsNotExist(err) {
			t.Fatal("pull --prune kept withdrawn media")
		}
		if v, r := runVerify(t, "--read-only", drive); r.code != 1 || v.Counts["modified"] != 0 || v.Counts["missing"] != 0 {
			// The conflicting VFX file is the drive's own; nothing else is wrong.
			if r.code != 0 {
				t.Fatalf("verify after prune: %s", r)
			}
		}
	})
}

// Two assistants push at once from two processes: nothing is lost; for the
// same path with different files exactly one wins and the other is told.
func TestConcurrentPushers(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		a, b := t.TempDir(), t.TempDir()
		for i := 0; i < 20; i++ {
			writeMedia(t, filepath.Join(a, fmt.Sprintf("A%02d.wav", i)), 40<<10, byte(i))
			writeMedia(t, filepath.Join(b, fmt.Sprintf("B%02d.wav", i)), 40<<10, byte(100+i))
		}
		writeMedia(t, filepath.Join(a, "SAME.wav"), 50<<10, 1)
		writeMedia(t, filepath.Join(b, "SAME.wav"), 50<<10, 2)
		envA := append(append([]string(nil), h.env...), "EDITKIT_STATE_DIR="+t.TempDir())
		envB := append(append([]string(nil), h.env...), "EDITKIT_STATE_DIR="+t.TempDir())
		files := func(dir string) []string {
			m, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
			return m
		}
		ca, oa := startEditkitEnv(t, envA, append([]string{"push", "--hub", h.url, "--category", "sfx", "--dest-path", "SFX"}, files(a)...)...)
		cb, ob := startEditkitEnv(t, envB, append([]string{"push", "--hub", h.url, "--category", "sfx", "--dest-path", "SFX"}, files(b)...)...)
		ea, eb := exitCode(ca.Wait()), exitCode(cb.Wait())
		if !(ea == 0 && eb == 1 || ea == 1 && eb == 0) {
			t.Fatalf("exits %d and %d, want exactly one 0:\nA:\n%s\nB:\n%s", ea, eb, oa.String(), ob.String())
		}
		loser := oa.String()
		if eb == 1 {
			loser = ob.String()
		}
		if !strings.Contains(loser, "SAME.wav") {
			t.Errorf("the losing push does not say which file lost:\n%s", loser)
		}
		var st catalog.Status
		h.runJSON(t, &st, "status")
		if len(st.Items) != 41 {
			t.Fatalf("catalog has %d items, want 41 (20 + 20 + 1)", len(st.Items))
		}
	})
}

// A catalog entry that would escape the drive or cannot live on exFAT is
// refused before any byte is written; a blob whose bytes are wrong is
// discarded, with the reason.
func TestPullRefusesHostileCatalogAndBadBlob(t *testing.T) {
	hubDir := t.TempDir()
	h := &testHub{name: "folder", url: hubDir, dir: hubDir, env: stateEnv(t)}
	content := []byte("evil payload")
	sum := blake3.Sum256(content)
	b3 := fmt.Sprintf("%x", sum)
	os.MkdirAll(filepath.Join(hubDir, "blobs", b3[:2]), 0o755)
	os.WriteFile(filepath.Join(hubDir, "blobs", b3[:2], b3), content, 0o644)
	drive := t.TempDir()
	outside := filepath.Dir(drive)
	var evs []event.Event
	for _, p := range []string{"../escape.txt", "/etc/editkit-evil", "Media/CON.mxf", "Media/bad:name.mxf", ".editkit/drive.json"} {
		ev := event.New(time.Now(), event.Pushed)
		ev.Path, ev.Hash, ev.Size = p, b3, int64(len(content))
		evs = append(evs, ev)
	}
	// And an honest entry whose blob is damaged in the hub.
	good := []byte("honest content")
	gsum := blake3.Sum256(good)
	g3 := fmt.Sprintf("%x", gsum)
	os.MkdirAll(filepath.Join(hubDir, "blobs", g3[:2]), 0o755)
	os.WriteFile(filepath.Join(hubDir, "blobs", g3[:2], g3), []byte("HONEST content"), 0o644)
	ev := event.New(time.Now(), event.Pushed)
	ev.Path, ev.Hash, ev.Size = "Media/honest.txt", g3, int64(len(good))
	evs = append(evs, ev)
	var buf bytes.Buffer
	for _, e := range evs {
		json.NewEncoder(&buf).Encode(e)
	}
	key := contenthub.NewEventKey(time.Now())
	os.MkdirAll(filepath.Join(hubDir, filepath.Dir(key)), 0o755)
	os.WriteFile(filepath.Join(hubDir, key), buf.Bytes(), 0o644)

	var pl pullOut
	r := h.runJSON(t, &pl, "pull", drive)
	if r.code != 1 {
		t.Fatalf("pull of a hostile catalog: %s", r)
	}
	refused := 0
	for _, it := range pl.Items {
		switch it.Status {
		case "refused":
			refused++
		case "failed":
			if it.Path != "Media/honest.txt" || !strings.Contains(it.Detail, "does not match the catalog") {
				t.Errorf("bad blob: %+v", it)
			}
		default:
			t.Errorf("unexpected %+v", it)
		}
	}
	if refused != 5 {
		t.Errorf("%d entries refused, want 5: %+v", refused, pl.Items)
	}
	if _, err := os.Stat(filepath.Join(outside, "escape.txt")); err == nil {
		t.Fatal("pull wrote outside the drive")
	}
	if _, err := os.Stat("/etc/editkit-evil"); err == nil {
		t.Fatal("pull wrote to /etc")
	}
	if _, err := os.Stat(filepath.Join(drive, "Media", "honest.txt")); err == nil {
		t.Fatal("a download with the wrong hash got its final name")
	}
	assertNoTemps(t, drive)
}

// pull killed with kill -9 in the middle of a large download, then run
// again: it resumes the partial download and the file verifies.
func TestPullResumesAfterKill(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		inbox := t.TempDir()
		data := writeMedia(t, filepath.Join(inbox, "Reel 2 guide.mov"), 96<<20, 5)
		if r := h.run(t, "push", "--category", "footage", "--dest-path", "Footage", filepath.Join(inbox, "Reel 2 guide.mov")); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		drive := t.TempDir()
		cmd, _ := startEditkitEnv(t, h.env, "pull", "--hub", h.url, "--bwlimit", "16MB/s", drive)
		tmp := filepath.Join(drive, "Footage", ".editkit-tmp-"+fmt.Sprintf("%x", blake3Sum8("Reel 2 guide.mov")))
		waitFor(t, 60*time.Second, "the download to be under way", func() bool {
			fi, err := os.Stat(tmp)
			return err == nil && fi.Size() > 20<<20
		})
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		fi, _ := os.Stat(tmp)
		partial := fi.Size()
		var pl pullOut
		if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 1 {
			t.Fatalf("pull after kill -9: %s", r)
		}
		got, _ := os.ReadFile(filepath.Join(drive, "Footage", "Reel 2 guide.mov"))
		if !bytes.Equal(got, data) {
			t.Fatal("resumed download differs")
		}
		if partial < 20<<20 {
			t.Fatalf("partial download was only %d bytes", partial)
		}
		assertNoTemps(t, drive)
		if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
			t.Fatalf("verify: %s", r)
		}
	})
}

func blake3Sum8(name string) []byte {
	s := blake3.Sum256([]byte(name))
	return s[:8]
}

// Pull onto an exFAT drive (FUSE, loop device).
func TestPullOntoExfat(t *testing.T) {
	long(t)
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	inbox := t.TempDir()
	writeMedia(t, filepath.Join(inbox, "Archive Clip – Paris 1968.mov"), 2<<20, 7)
	if r := h.run(t, "push", "--category", "archive", "--dest-path", "Archive/Élan", filepath.Join(inbox, "Archive Clip – Paris 1968.mov")); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	drive := mountExfat(t, "64M")
	var pl pullOut
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 1 {
		t.Fatalf("pull onto exFAT: %s", r)
	}
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Present != 1 {
		t.Fatalf("second pull onto exFAT (mtime rounding?): %s", r)
	}
	if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
		t.Fatalf("verify: %s", r)
	}
}

// A hot folder, as a user runs it: a file is pushed once, with its final
// content, and Ctrl-C stops the watch cleanly.
func TestWatchPushesFinishedFiles(t *testing.T) {
	long(t)
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	folder := t.TempDir()
	// A render written under a partial name, then renamed: the watch never
	// pushes the partial file, and pushes the finished one once settled
	// (how long a growing file must stay still is internal/catalog's
	// TestWatchWaitsForFilesToSettle, on a fake clock).
	all := bytes.Repeat([]byte("frame"), 600<<10)
	partial := filepath.Join(folder, "shot_020.mov.part")
	if err := os.WriteFile(partial, all, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, out := startEditkitEnv(t, h.env, "watch", "--hub", h.url, "--category", "vfx", "--dest-path", "Incoming",
		"--interval", "200ms", "--settle", "500ms", folder)
	if err := os.Rename(partial, filepath.Join(folder, "shot_020.mov")); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%x", blake3.Sum256(all))
	waitFor(t, 2*time.Minute, "the watch to push the finished file", func() bool {
		return strings.Contains(out.String(), "pushed Incoming/shot_020.mov")
	})
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch did not stop cleanly on Ctrl-C: %v\n%s", err, out.String())
	}
	var st catalog.Status
	h.runJSON(t, &st, "status")
	if len(st.Items) != 1 || st.Items[0].B3 != want || len(st.Items[0].Previous) != 0 || len(st.Conflicts) != 0 {
		t.Fatalf("catalog after watch: %+v\n%s", st.Items, out.String())
	}
}
