package main

// End-to-end tests of hub safety: prune racing a backup, kill -9 of backup
// and prune at each step, damaged snapshot lists and blobs and their way
// out, and reports that never say more than was done. They run a build of
// editkit with test hooks (-tags editkit_testhooks) that can stop a command
// at a named step, so the interleavings are chosen, not timed.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
)

// hooksBinary is the editkit binary the end-to-end tests run: it is built
// with the test hooks (see TestMain).
func hooksBinary(t *testing.T) string { return editkitBin }

// runBin runs bin with the hub's environment, extra env and --hub.
func (h *testHub) runBin(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--hub", h.url)...)
	cmd.Env = append(append(os.Environ(), h.env...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		r.code = exitCode(err)
		if r.code == 0 {
			t.Fatalf("editkit %v: %v", args, err)
		}
	}
	return r
}

// pausedAt starts bin paused at a step ("backup:walked") and returns once
// it waits there; resume lets it go on and returns its result.
func (h *testHub) pausedAt(t *testing.T, bin, step string, args ...string) (resume func() result) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, append(args, "--hub", h.url)...)
	cmd.Env = append(append(os.Environ(), h.env...), "EDITKIT_TEST_PAUSE_AT="+step, "EDITKIT_TEST_PAUSE_DIR="+dir)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, 5*time.Minute, "editkit to reach "+step, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("editkit %v ended before %s: %v\n%s\n%s", args, step, err, out.String(), errb.String())
		default:
		}
		_, err := os.Stat(filepath.Join(dir, "paused"))
		return err == nil
	})
	return func() result {
		os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644)
		err := <-exited
		return result{code: exitCode(err), stdout: out.String(), stderr: errb.String()}
	}
}

func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func ahead(d string) []string { return []string{"EDITKIT_TEST_CLOCK_AHEAD=" + d} }

// The recipe: a 1 MiB file leaves set A; two prunes a grace period
// apart put its blob up for deletion; the same file appears in set B; a
// backup of B finds the blob in the hub, and a prune deletes it before the
// snapshot is written. The backup puts it back: hub check is clean and
// restore gives the file. (Before: "Backed up … 2 new", then hub check:
// missing, restore failed, and every later snapshot inherited the hole.)
func TestPruneRacingBackupE2E(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	hubs(t, func(t *testing.T, h *testHub) {
		a := filepath.Join(t.TempDir(), "A")
		cue := writeRandom(t, filepath.Join(a, "cue.wav"), 1<<20)
		writeRandom(t, filepath.Join(a, "bin.avb"), 1000)
		for i := 0; i < 2; i++ {
			if r := h.runBin(t, bin, nil, "backup", "--set", "A", a); r.code != 0 {
				t.Fatalf("backup A: %s", r)
			}
			os.Remove(filepath.Join(a, "cue.wav"))
		}
		var pr backup.PruneResult
		r := h.runBin(t, bin, ahead("3s"), "--json", "prune", "--keep-last", "1", "--grace", "2s")
		if json.Unmarshal([]byte(r.stdout), &pr); r.code != 0 || pr.BlobsPending != 1 {
			t.Fatalf("first prune: %s", r)
		}
		b := filepath.Join(t.TempDir(), "B")
		os.MkdirAll(b, 0o755)
		os.WriteFile(filepath.Join(b, "cue.wav"), cue, 0o644)
		writeRandom(t, filepath.Join(b, "notes.txt"), 100)

		resume := h.pausedAt(t, bin, "backup:walked", "backup", "--set", "B", b)
		r = h.runBin(t, bin, ahead("6s"), "--json", "prune", "--keep-last", "1", "--grace", "2s")
		if json.Unmarshal([]byte(r.stdout), &pr); r.code != 0 || pr.BlobsDeleted != 1 {
			t.Fatalf("the prune while the backup runs was to delete the marked blob: %s", r)
		}
		br := resume()
		if br.code != 0 || !strings.Contains(br.stderr, "uploaded it again") || !strings.Contains(br.stdout, "Backed up set B") {
			t.Fatalf("backup of B: %s", br)
		}
		if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after the race: %s", r)
		}
		to := t.TempDir()
		if r := h.runBin(t, bin, nil, "restore", "latest", "--set", "B", "--to", to); r.code != 0 {
			t.Fatalf("restore: %s", r)
		}
		if got, _ := os.ReadFile(filepath.Join(to, "B", "cue.wav")); !bytes.Equal(got, cue) {
			t.Fatal("restore did not give back cue.wav")
		}
		// Later prunes leave it: snapshot B uses it.
		if r := h.runBin(t, bin, ahead("1h"), "prune", "--keep-last", "1", "--grace", "2s"); r.code != 0 {
			t.Fatalf("a later prune: %s", r)
		}
		if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after a later prune: %s", r)
		}
	})
}

// The same race for push: a push finds its blob in the hub, a prune
// deletes it before the catalog event is written; the push puts it back.
func TestPruneRacingPushE2E(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	hubs(t, func(t *testing.T, h *testHub) {
		a := filepath.Join(t.TempDir(), "A")
		writeRandom(t, filepath.Join(a, "other.txt"), 100)
		vfx := writeRandom(t, filepath.Join(a, "VFX_010.mxf"), 1<<20)
		for i := 0; i < 2; i++ {
			if r := h.runBin(t, bin, nil, "backup", "--set", "A", a); r.code != 0 {
				t.Fatalf("backup A: %s", r)
			}
			os.Remove(filepath.Join(a, "VFX_010.mxf"))
		}
		if r := h.runBin(t, bin, ahead("3s"), "prune", "--keep-last", "1", "--grace", "2s"); r.code != 0 {
			t.Fatalf("first prune: %s", r)
		}
		src := filepath.Join(t.TempDir(), "VFX_010.mxf")
		os.WriteFile(src, vfx, 0o644)
		resume := h.pausedAt(t, bin, "push:uploaded", "push", "--dest-path", "VFX", src)
		var pr backup.PruneResult
		r := h.runBin(t, bin, ahead("6s"), "--json", "prune", "--keep-last", "1", "--grace", "2s")
		if json.Unmarshal([]byte(r.stdout), &pr); r.code != 0 || pr.BlobsDeleted != 1 {
			t.Fatalf("the prune while the push runs: %s", r)
		}
		if pr := resume(); pr.code != 0 || !strings.Contains(pr.stdout, "Pushed 1 file") {
			t.Fatalf("push: %s", pr)
		}
		if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after the race: %s", r)
		}
	})
}

// kill -9 of backup and of prune at each of their steps, on both hubs,
// then the same command again: it completes, hub check --read-data is
// clean, the state folder holds no temporary file, and no backup is
// recorded twice in the event log.
func TestBackupPruneCrashMatrixE2E(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	hubs(t, func(t *testing.T, h *testHub) {
		state := ""
		for _, e := range h.env {
			if v, ok := strings.CutPrefix(e, "EDITKIT_STATE_DIR="); ok {
				state = v
			}
		}
		src := filepath.Join(t.TempDir(), "Show")
		writeRandom(t, filepath.Join(src, "Avid Projects", "Show.avp"), 3000)
		check := func(what string) {
			t.Helper()
			if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 {
				t.Fatalf("%s: hub check: %s", what, r)
			}
			if left, _ := os.ReadDir(filepath.Join(state, "tmp")); len(left) != 0 {
				t.Fatalf("%s: left in the state folder: %v", what, left)
			}
			if left := outboxLeft(t, state); len(left) != 0 {
				t.Fatalf("%s: events left undelivered: %v", what, left)
			}
			seen := map[string]bool{}
			for _, l := range h.eventLines(t) {
				var ev struct{ Snapshot, ID string }
				json.Unmarshal([]byte(l), &ev)
				for _, k := range []string{"event " + ev.ID, "snapshot " + ev.Snapshot} {
					if seen[k] && k != "snapshot " {
						t.Fatalf("%s: %s recorded twice", what, k)
					}
					seen[k] = true
				}
			}
		}
		for i, step := range []string{"started", "walked", "pack-stored", "rechecked", "committed", "verified"} {
			writeRandom(t, filepath.Join(src, "Media", step+".mxf"), 300<<10+i)
			r := h.runBin(t, bin, []string{"EDITKIT_TEST_KILL_AT=backup:" + step}, "backup", "--set", "show", src)
			if r.code != -int(syscall.SIGKILL) {
				t.Fatalf("backup killed at %s: %s", step, r)
			}
			if r := h.runBin(t, bin, nil, "backup", "--set", "show", src); r.code != 0 {
				t.Fatalf("backup after a kill at %s: %s", step, r)
			}
			check("backup killed at " + step)
		}
		// Prune: each round makes a blob nothing uses, marks it, and kills
		// the prune that deletes it at one step.
		clock := 0
		tick := func() []string { clock += 3; return ahead((time.Duration(clock) * time.Second).String()) }
		for _, step := range []string{"listed", "marked", "announced", "relisted", "deleted"} {
			junk := filepath.Join(src, "Media", "junk-"+step+".mxf")
			writeRandom(t, junk, 200<<10)
			for j := 0; j < 2; j++ {
				if r := h.runBin(t, bin, nil, "backup", "--set", "show", src); r.code != 0 {
					t.Fatalf("backup: %s", r)
				}
				os.Remove(junk)
			}
			if r := h.runBin(t, bin, tick(), "prune", "--keep-last", "1", "--grace", "2s"); r.code != 0 {
				t.Fatalf("marking prune: %s", r)
			}
			r := h.runBin(t, bin, append(tick(), "EDITKIT_TEST_KILL_AT=prune:"+step), "prune", "--keep-last", "1", "--grace", "2s")
			if r.code != -int(syscall.SIGKILL) {
				t.Fatalf("prune killed at %s: %s", step, r)
			}
			// A backup now must not wait for the killed prune, nor lose a blob.
			if r := h.runBin(t, bin, nil, "backup", "--set", "show", src); r.code != 0 {
				t.Fatalf("backup after a prune killed at %s: %s", step, r)
			}
			var pr backup.PruneResult
			r = h.runBin(t, bin, tick(), "--json", "prune", "--keep-last", "1", "--grace", "2s")
			if json.Unmarshal([]byte(r.stdout), &pr); r.code != 0 {
				t.Fatalf("prune after a kill at %s: %s", step, r)
			}
			check("prune killed at " + step)
			if left := h.objects(t, "prune/deleting"); len(left) != 0 {
				t.Fatalf("prune killed at %s: its announcement was left: %v", step, left)
			}
			if objs := append(h.objects(t, "blobs"), h.objects(t, "packs")...); len(objs) == 0 {
				t.Fatal("no blobs")
			}
		}
	})
}

// A flipped byte in a snapshot's file list: the next backup of the set
// reads every file (saying so) and succeeds; prune and hub check name the
// snapshot and the command that drops it; after `snapshots forget` both
// are clean again.
func TestDamagedSnapshotListE2E(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := filepath.Join(t.TempDir(), "Show")
		writeRandom(t, filepath.Join(src, "a.avb"), 5000)
		writeRandom(t, filepath.Join(src, "b.avb"), 5000)
		var b backupOut
		if r := h.runJSON(t, &b, "backup", "--set", "cut", src); r.code != 0 {
			t.Fatalf("backup: %s", r)
		}
		bad := b.Snapshot
		var list string
		for _, k := range h.objects(t, "snapshots") {
			if strings.HasSuffix(k, bad+".entries.gz") {
				list = filepath.Join(h.dir, k)
			}
		}
		data, err := os.ReadFile(list)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x40
		os.WriteFile(list, data, 0o644)

		r := h.runJSON(t, &b, "backup", "--set", "cut", src)
		if r.code != 0 || b.Unchanged != 0 || b.Files != 2 || !strings.Contains(r.stderr, "reads every file") || !strings.Contains(r.stderr, bad) {
			t.Fatalf("backup after the file list was damaged: %s", r)
		}
		forget := "editkit snapshots forget " + bad
		r = h.run(t, "prune", "--keep-last", "5")
		if r.code != 1 || !strings.Contains(r.stderr, forget) || !strings.Contains(r.stderr, "set cut") {
			t.Fatalf("prune with a damaged snapshot: %s", r)
		}
		r = h.run(t, "hub", "check")
		if r.code != 1 || !strings.Contains(r.stdout, forget) {
			t.Fatalf("hub check with a damaged snapshot: %s", r)
		}
		if r := h.run(t, "snapshots", "forget", bad); r.code != 0 {
			t.Fatalf("forget: %s", r)
		}
		if r := h.run(t, "prune", "--keep-last", "5"); r.code != 0 {
			t.Fatalf("prune after forget: %s", r)
		}
		if r := h.run(t, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after forget: %s", r)
		}
		var snaps []contenthub.Snapshot
		h.runJSON(t, &snaps, "snapshots")
		if len(snaps) != 1 || snaps[0].ID == bad {
			t.Fatalf("snapshots after forget: %+v", snaps)
		}
	})
}

// A damaged snapshot summary (ID.json): snapshots lists every other one and
// names the damaged one with the way out (exit 1); the next backup uses the
// snapshot before it as its parent; a restore of another snapshot works, a
// restore that could mean the damaged one refuses; hub check reports it;
// snapshots forget drops it.
func TestDamagedSnapshotSummaryE2E(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := filepath.Join(t.TempDir(), "Show")
		writeRandom(t, filepath.Join(src, "a.avb"), 5000)
		var first, second backupOut
		if r := h.runJSON(t, &first, "backup", "--set", "cut", src); r.code != 0 {
			t.Fatalf("backup: %s", r)
		}
		writeRandom(t, filepath.Join(src, "b.avb"), 5000)
		if r := h.runJSON(t, &second, "backup", "--set", "cut", src); r.code != 0 {
			t.Fatalf("second backup: %s", r)
		}
		bad := second.Snapshot
		summary := filepath.Join(h.dir, "snapshots", "cut", bad+".json")
		data, err := os.ReadFile(summary)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(summary, data[:len(data)/2], 0o644)
		forget := "editkit snapshots forget " + bad

		r := h.run(t, "snapshots")
		if r.code != 1 || !strings.Contains(r.stdout, first.Snapshot) || !strings.Contains(r.stderr, forget) {
			t.Fatalf("snapshots with a damaged summary: %s", r)
		}
		if r := h.run(t, "restore", "latest", "--to", t.TempDir()); r.code != 1 || !strings.Contains(r.stderr, forget) {
			t.Fatalf("restore latest while the newest summary is damaged: %s", r)
		}
		to := t.TempDir()
		if r := h.run(t, "restore", first.Snapshot, "--to", to); r.code != 0 {
			t.Fatalf("restore of the readable snapshot: %s", r)
		}
		if _, err := os.Stat(filepath.Join(to, "Show", "a.avb")); err != nil {
			t.Fatalf("restore of the readable snapshot: %v", err)
		}
		var third backupOut
		if r := h.runJSON(t, &third, "backup", "--set", "cut", src); r.code != 0 || third.Files != 2 {
			t.Fatalf("backup after a damaged summary: %s", r)
		}
		if r := h.run(t, "restore", "latest", "--to", t.TempDir()); r.code != 0 {
			t.Fatalf("restore latest once a newer snapshot exists: %s", r)
		}
		if r := h.run(t, "hub", "check"); r.code != 1 || !strings.Contains(r.stdout+r.stderr, forget) {
			t.Fatalf("hub check with a damaged summary: %s", r)
		}
		if r := h.run(t, "prune", "--keep-last", "5"); r.code != 1 || !strings.Contains(r.stderr, forget) {
			t.Fatalf("prune with a damaged summary: %s", r)
		}
		if r := h.run(t, "snapshots", "forget", bad); r.code != 0 {
			t.Fatalf("forget: %s", r)
		}
		if r := h.run(t, "snapshots"); r.code != 0 || strings.Contains(r.stdout, bad) {
			t.Fatalf("snapshots after forget: %s", r)
		}
		if r := h.run(t, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after forget: %s", r)
		}
	})
}

// A damaged blob: hub check --read-data lists every snapshot file and
// catalog item that uses it (not only the first); --repair removes it, the
// next backup and push of the files, which still exist, upload it again
// (though the files are unchanged), and the hub is whole again.
func TestHubCheckRepairE2E(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := filepath.Join(t.TempDir(), "Show")
		content := writeRandom(t, filepath.Join(src, "one.mxf"), 200<<10)
		os.WriteFile(filepath.Join(src, "two.mxf"), content, 0o644)
		writeRandom(t, filepath.Join(src, "other.avb"), 1000)
		for i := 0; i < 2; i++ {
			if r := h.run(t, "backup", "--set", "cut", src); r.code != 0 {
				t.Fatalf("backup: %s", r)
			}
		}
		if r := h.run(t, "push", "--dest-path", "VFX", filepath.Join(src, "one.mxf")); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		flip := func() { damageInHub(t, h, content, 1000) }
		flip()

		var cr backup.CheckResult
		r := h.runJSON(t, &cr, "hub", "check", "--read-data")
		if r.code != 1 || len(cr.Problems) != 1 || len(cr.Problems[0].UsedBy) != 5 || !cr.Problems[0].Damaged {
			t.Fatalf("hub check of a damaged blob used by 2 snapshots x 2 files and a catalog item: %s", r)
		}
		r = h.run(t, "hub", "check", "--read-data")
		if !strings.Contains(r.stdout, "--repair") || strings.Count(r.stdout, "one.mxf") < 3 || strings.Count(r.stdout, "two.mxf") != 2 {
			t.Fatalf("hub check's report: %s", r)
		}
		repair := func() {
			t.Helper()
			if r := h.runJSON(t, &cr, "hub", "check", "--read-data", "--repair"); r.code != 1 || cr.Repaired != 1 || !cr.Problems[0].Removed {
				t.Fatalf("repair: %s", r)
			}
		}
		repair()
		// The push of a file the catalog has (unchanged) uploads it again.
		var pr catalog.PushResult
		if r := h.runJSON(t, &pr, "push", "--dest-path", "VFX", filepath.Join(src, "one.mxf")); r.code != 0 || !pr.Items[0].Uploaded {
			t.Fatalf("push after the repair: %s", r)
		}
		if r := h.run(t, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after the push: %s", r)
		}
		// So does a backup of unchanged files.
		flip()
		repair()
		var b backupOut
		if r := h.runJSON(t, &b, "backup", "--set", "cut", src); r.code != 0 || b.Unchanged != 3 || b.Blobs != 1 {
			t.Fatalf("backup after the repair (the files are unchanged, the content is uploaded again): %s", r)
		}
		if r := h.run(t, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check after the backup: %s", r)
		}
		if r := h.run(t, "hub", "check", "--repair"); r.code != 2 {
			t.Fatalf("--repair without --read-data: %s", r)
		}
	})
}

// Reports that never overstate: a cancelled backup prints no success line
// and writes no snapshot (before: "Backed up set media as snapshot  in
// -2562047h47m…"); a bad set name is a usage error; a push that lost a
// same-path race does not say "Pushed 1 file" and exits 1.
func TestHubReportsNeverOverstateE2E(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	src := filepath.Join(t.TempDir(), "Show")
	writeRandom(t, filepath.Join(src, "a.avb"), 5000)

	for _, args := range [][]string{
		{"backup", "--set", "../x", src}, {"backup", "--set", "a/b", src}, {"prune", "--set", "../x", "--keep-last", "1"}, {"snapshots", "--set", "../x"},
		{"restore", "latest", "--set", "../x", "--to", t.TempDir()},
	} {
		if r := h.run(t, args...); r.code != 2 || !strings.Contains(r.stderr, "backup set") {
			t.Errorf("editkit %v: %s", args, r)
		}
	}
	if left := h.objects(t, ""); len(left) != 0 {
		t.Fatalf("a refused set name wrote %v", left)
	}

	// Interrupted (Ctrl-C) after the walk, before the snapshot.
	dir := t.TempDir()
	cmd := exec.Command(bin, "backup", "--set", "media", src, "--hub", h.url)
	cmd.Env = append(append(os.Environ(), h.env...), "EDITKIT_TEST_PAUSE_AT=backup:walked", "EDITKIT_TEST_PAUSE_DIR="+dir)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, 5*time.Minute, "the backup to finish its walk", func() bool {
		_, err := os.Stat(filepath.Join(dir, "paused"))
		return err == nil
	})
	cmd.Process.Signal(os.Interrupt)
	os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644)
	err := cmd.Wait()
	if code := exitCode(err); code == 0 || strings.Contains(out.String(), "Backed up") || strings.Contains(out.String(), "-2562047h") {
		t.Fatalf("a cancelled backup: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if snaps := h.objects(t, "snapshots"); len(snaps) != 0 {
		t.Fatalf("a cancelled backup wrote %v", snaps)
	}

	// Two pushes of different files to one path at once: the one whose
	// event lands second lost.
	a := filepath.Join(t.TempDir(), "VFX_010.mxf")
	b := filepath.Join(t.TempDir(), "VFX_010.mxf")
	writeRandom(t, a, 10000)
	writeRandom(t, b, 10000)
	resume := h.pausedAt(t, bin, "push:rechecked", "push", "--dest-path", "VFX", a)
	if r := h.run(t, "push", "--dest-path", "VFX", b); r.code != 0 {
		t.Fatalf("the other push: %s", r)
	}
	r := resume()
	if r.code != 1 || strings.Contains(r.stdout, "Pushed 1 file") || !strings.Contains(r.stdout, "lost a race") || !strings.Contains(r.stdout, "conflict") {
		t.Fatalf("the push that lost the race: %s", r)
	}
}

// damageInHub flips the byte at offset off of content where the hub keeps
// it: in a pack (a backup packed it) or an object of its own (a push
// uploaded it).
func damageInHub(t *testing.T, h *testHub, content []byte, off int) {
	t.Helper()
	for _, k := range append(h.objects(t, "packs"), h.objects(t, "blobs")...) {
		path := filepath.Join(h.dir, filepath.FromSlash(k))
		data, _ := os.ReadFile(path)
		if at := bytes.Index(data, content); at >= 0 {
			data[at+off] ^= 1
			os.Chmod(path, 0o644)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("the content is nowhere in the hub")
}
