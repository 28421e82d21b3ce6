package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/zeebo/blake3"
)

// projectTree makes an Avid/Pro Tools project tree to back up.
func projectTree(t *testing.T, seed uint64, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "Show")
	generate(t, dir, samplemedia.Options{Seed: seed, TotalBytes: size})
	return dir
}

type backupOut struct {
	OK bool `json:"ok"`
	backup.Result
}

// The nightly cycle against both hubs: a first backup uploads everything, a
// rerun with nothing changed uploads nothing, a change uploads just that
// file; restore gives back the source bit for bit, also as it was before the
// change; prune and check; every step lands in the hub's event log.
func TestBackupRestoreCycle(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := projectTree(t, 30, 24<<20)
		var b backupOut
		if r := h.runJSON(t, &b, "backup", "--set", "cutting-room", src); r.code != 0 || b.Snapshot == "" || b.Uploaded == 0 {
			t.Fatalf("first backup: %s", r)
		}
		first := b
		if r := h.runJSON(t, &b, "backup", "--set", "cutting-room", src); r.code != 0 || b.Uploaded != 0 || b.Unchanged != b.Files || b.Files != first.Files {
			t.Fatalf("backup with nothing changed uploaded %d bytes (%d unchanged of %d): %s", b.Uploaded, b.Unchanged, b.Files, r)
		}
		// An editor saves a bin: a new file replaces it (new inode).
		bin := filepath.Join(src, "Avid Projects")
		var binPath string
		filepath.WalkDir(bin, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".avb") && binPath == "" && !strings.Contains(p, "Attic") {
				if fi, _ := d.Info(); fi.Size() > 0 {
					binPath = p
				}
			}
			return nil
		})
		oldBin, _ := os.ReadFile(binPath)
		newBin := append(bytes.Clone(oldBin), []byte("new sequence")...)
		os.WriteFile(binPath+".tmp", newBin, 0o644)
		os.Rename(binPath+".tmp", binPath)
		if r := h.runJSON(t, &b, "backup", "--set", "cutting-room", src); r.code != 0 || b.Changed != 1 || b.Uploaded != int64(len(newBin)) {
			t.Fatalf("backup after one bin changed: changed %d, uploaded %d bytes (the bin is %d): %s", b.Changed, b.Uploaded, len(newBin), r)
		}

		// Restore the latest: identical to the source.
		to := t.TempDir()
		if r := h.run(t, "restore", "latest", "--to", to); r.code != 0 {
			t.Fatalf("restore: %s", r)
		}
		assertCopied(t, src, filepath.Join(to, "Show"))
		// The first snapshot has the old bin.
		to2 := t.TempDir()
		rel, _ := filepath.Rel(filepath.Dir(src), binPath)
		if r := h.run(t, "restore", first.Snapshot, filepath.ToSlash(rel), "--to", to2); r.code != 0 {
			t.Fatalf("restore one file from the first snapshot: %s", r)
		}
		if got, _ := os.ReadFile(filepath.Join(to2, rel)); !bytes.Equal(got, oldBin) {
			t.Error("restoring the first snapshot did not give the bin as it was")
		}
		if entries, _ := os.ReadDir(filepath.Join(to2, "Show")); len(entries) != 1 {
			t.Errorf("restoring one path restored more: %v", entries)
		}
		// A second restore into the same folder finds everything there.
		var rr backup.RestoreResult
		if r := h.runJSON(t, &rr, "restore", "latest", "--to", to); r.code != 0 || rr.Restored != 0 || rr.Present != rr.Files {
			t.Fatalf("restore again: %s", r)
		}

		var snaps []contenthub.Snapshot
		h.runJSON(t, &snaps, "snapshots")
		if len(snaps) != 3 || snaps[2].Changed != 1 {
			t.Fatalf("snapshots: %+v", snaps)
		}
		var pr backup.PruneResult
		if r := h.runJSON(t, &pr, "prune", "--keep-last", "1", "--grace", "0s"); r.code != 0 || len(pr.Removed) != 2 || pr.BlobsDeleted != 1 {
			t.Fatalf("prune (kept %v, removed %v, %d blobs deleted): %s", pr.Kept, pr.Removed, pr.BlobsDeleted, r)
		}
		var cr backup.CheckResult
		if r := h.runJSON(t, &cr, "hub", "check", "--read-data"); r.code != 0 || cr.Checked == 0 {
			t.Fatalf("hub check after prune: %s", r)
		}
		to3 := t.TempDir()
		if r := h.run(t, "restore", "latest", "--to", to3); r.code != 0 {
			t.Fatalf("restore after prune: %s", r)
		}
		assertCopied(t, src, filepath.Join(to3, "Show"))

		// Every backup, restore and prune is in the event log.
		log := strings.Join(h.eventLines(t), "\n")
		for _, a := range []string{`"backed-up"`, `"restored"`, `"pruned"`} {
			if !strings.Contains(log, a) {
				t.Errorf("no %s event in the hub's log", a)
			}
		}
	})
}

// eventLines returns every event line in the hub's log.
func (h *testHub) eventLines(t *testing.T) []string {
	var out []string
	for _, k := range h.objects(t, "events") {
		b, _ := os.ReadFile(filepath.Join(h.dir, k))
		out = append(out, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	return out
}

// A dry run says what would go and how long it would take, and uploads
// nothing; --log keeps a cron run silent and writes the record.
func TestBackupDryRunAndLog(t *testing.T) {
	long(t)
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	src := projectTree(t, 31, 8<<20)
	var b backupOut
	r := h.runJSON(t, &b, "backup", "--dry-run", "--bwlimit", "8Mbit", "--set", "s", src)
	if r.code != 0 || !b.DryRun || b.ToUpload == 0 || b.ETA < time.Duration(float64(b.ToUpload)/1e6*float64(time.Second))*9/10 {
		t.Fatalf("dry run: %s", r)
	}
	if objs := h.objects(t, ""); len(objs) != 0 {
		t.Fatalf("a dry run wrote %v", objs)
	}
	logFile := filepath.Join(t.TempDir(), "backup.log")
	r = h.run(t, "backup", "--set", "s", "--log", logFile, src)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("a logged backup was not silent: %s", r)
	}
	lg, _ := os.ReadFile(logFile)
	if !strings.Contains(string(lg), "Backed up set s") {
		t.Fatalf("log: %s", lg)
	}
}

// Two backups at once: of different sets both succeed; of the same set on
// one computer the second stops at once, saying why; a lock left by a
// killed run is taken over.
func TestBackupConcurrencyAndLock(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	hubs(t, func(t *testing.T, h *testHub) {
		a := projectTree(t, 32, 64<<20)
		b := projectTree(t, 33, 64<<20)
		// alpha holds its lock, stopped after its start; beta runs alongside.
		resume := h.pausedAt(t, bin, "backup:started", "backup", "--set", "alpha", a)
		c2, o2 := startEditkitEnv(t, h.env, "backup", "--bwlimit", "40MB/s", "--hub", h.url, "--set", "beta", b)
		same := h.run(t, "backup", "--set", "alpha", a)
		if same.code != 1 || !strings.Contains(same.stderr, "another backup") {
			t.Errorf("a second backup of the same set: %s", same)
		}
		if r := resume(); r.code != 0 {
			t.Fatalf("backup alpha: %s", r)
		}
		if err := c2.Wait(); err != nil {
			t.Fatalf("backup beta: %v\n%s", err, o2.String())
		}
		var cr backup.CheckResult
		if r := h.runJSON(t, &cr, "hub", "check", "--read-data"); r.code != 0 || cr.Snapshots != 2 {
			t.Fatalf("hub after two concurrent backups: %s", r)
		}
		// kill -9 leaves the lock file: the next run takes it over.
		c := projectTree(t, 34, 32<<20)
		if r := h.runBin(t, bin, []string{"EDITKIT_TEST_KILL_AT=backup:walked"}, "backup", "--set", "gamma", c); r.code != -int(syscall.SIGKILL) {
			t.Fatalf("backup killed after its walk: %s", r)
		}
		r := h.run(t, "backup", "--set", "gamma", c)
		if r.code != 0 || !strings.Contains(r.stderr, "took over the lock") {
			t.Fatalf("after a killed backup: %s", r)
		}
		if r := h.runJSON(t, &cr, "hub", "check", "--read-data"); r.code != 0 || cr.Snapshots != 3 {
			t.Fatalf("hub after a killed and a resumed backup: %s", r)
		}
	})
}

// A snapshot that names paths outside the restore folder is refused, and
// nothing is written outside it.
func TestRestoreRefusesHostileSnapshot(t *testing.T) {
	hubDir := t.TempDir()
	h := &testHub{name: "folder", url: hubDir, dir: hubDir, env: stateEnv(t)}
	outside := t.TempDir()
	for i, bad := range []string{"../escaped.txt", "/" + filepath.Join(outside, "abs.txt"), "ok/../../x"} {
		content := []byte("payload")
		sum := blake3.Sum256(content)
		b3 := fmt.Sprintf("%x", sum)
		os.MkdirAll(filepath.Join(hubDir, "blobs", b3[:2]), 0o755)
		os.WriteFile(filepath.Join(hubDir, "blobs", b3[:2], b3), content, 0o644)
		var entries bytes.Buffer
		gz := gzip.NewWriter(&entries)
		json.NewEncoder(gz).Encode(contenthub.Entry{Root: 0, Path: bad, Size: int64(len(content)), B3: b3})
		gz.Close()
		id := fmt.Sprintf("20260101T00000%d.000000Z-deadbeef", i)
		esum := blake3.Sum256(entries.Bytes())
		snap := contenthub.Snapshot{Format: contenthub.SnapshotFormat, ID: id, Set: "evil", Time: time.Now(), Paths: []string{"/tmp/x"},
			EntriesKey: "snapshots/evil/" + id + ".entries.gz", EntriesB3: fmt.Sprintf("%x", esum)}
		os.MkdirAll(filepath.Join(hubDir, "snapshots", "evil"), 0o755)
		os.WriteFile(filepath.Join(hubDir, snap.EntriesKey), entries.Bytes(), 0o644)
		js, _ := json.Marshal(snap)
		os.WriteFile(filepath.Join(hubDir, "snapshots", "evil", id+".json"), js, 0o644)
		to := filepath.Join(t.TempDir(), "restore")
		r := h.run(t, "restore", id, "--to", to)
		if r.code == 0 || !strings.Contains(r.stderr, "refused") {
			t.Errorf("hostile path %q: %s", bad, r)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(to), "escaped.txt")); err == nil {
			t.Errorf("restore wrote outside its folder for %q", bad)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("restore wrote into %s: %v", outside, entries)
		}
	}
}
