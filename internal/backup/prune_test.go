package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// The keep policy follows restic's: the newest snapshot in each of the
// last N days, weeks and months, and the last N; any rule keeps.
func TestPolicyKeep(t *testing.T) {
	loc := time.Local
	var snaps []*contenthub.Snapshot
	// Two snapshots a day (09:00 and 23:30) for 70 days.
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, loc)
	for d := 0; d < 70; d++ {
		for _, h := range []int{9, 23} {
			tm := start.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			snaps = append(snaps, &contenthub.Snapshot{ID: tm.UTC().Format("20060102T150405") + fmt.Sprint(h), Time: tm})
		}
	}
	keep, remove := Policy{Daily: 7}.Keep(snaps)
	if len(keep) != 7 || len(keep)+len(remove) != len(snaps) {
		t.Fatalf("daily 7: kept %d", len(keep))
	}
	for _, s := range keep {
		if s.Time.Hour() != 23 {
			t.Errorf("daily kept %s, not the newest of its day", s.Time)
		}
	}
	keep, _ = Policy{Daily: 7, Weekly: 4, Monthly: 3, Last: 1}.Keep(snaps)
	months := map[string]bool{}
	for _, s := range keep {
		months[s.Time.Format("2006-01")] = true
	}
	if len(months) != 3 || len(keep) < 7 || len(keep) > 14 {
		t.Fatalf("mixed policy kept %d snapshots over %d months", len(keep), len(months))
	}
	if !slices.ContainsFunc(keep, func(s *contenthub.Snapshot) bool { return s == snaps[len(snaps)-1] }) {
		t.Fatal("the newest snapshot was not kept")
	}
	if (Policy{}).empty() != true {
		t.Fatal("empty policy")
	}
}

// A kept snapshot whose file list is damaged might use any blob: prune
// deletes none, names the snapshot and the command that drops it, and
// after `snapshots forget` deletes again.
func TestPruneWithADamagedSnapshotDeletesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	be, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(be)
	tmp := t.TempDir()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), []byte("old"), 0o644)
	if _, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "a"), []byte("new content"), 0o644)
	r2, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "snapshots", "s", r2.Snapshot+".entries.gz")
	data, _ := os.ReadFile(list)
	data[len(data)/2] ^= 1
	os.WriteFile(list, data, 0o644)
	pr, err := Prune(ctx, h, PruneOptions{Policy: Policy{Last: 1}, TempDir: tmp})
	if err != nil || pr.OK() || len(pr.Damaged) != 1 || pr.BlobsDeleted != 0 || pr.BlobsPending != 2 ||
		!strings.Contains(pr.Damaged[0].Error, "editkit snapshots forget "+r2.Snapshot) {
		t.Fatalf("prune with a damaged snapshot: %v %+v", err, pr)
	}
	cr, err := Check(ctx, h, CheckOptions{TempDir: tmp})
	if err != nil || cr.OK() || len(cr.Damaged) != 1 || cr.Damaged[0].ID != r2.Snapshot {
		t.Fatalf("check: %v %+v", err, cr)
	}
	if set, err := h.ForgetSnapshot(ctx, r2.Snapshot); err != nil || set != "s" {
		t.Fatalf("forget: %q %v", set, err)
	}
	pr, err = Prune(ctx, h, PruneOptions{Policy: Policy{Last: 1}, TempDir: tmp})
	if err != nil || !pr.OK() || pr.BlobsDeleted != 2 {
		t.Fatalf("prune after forget: %v %+v", err, pr)
	}
	// The next backup has no parent and reads the file again.
	r3, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp})
	if err != nil || r3.New != 1 || r3.Blobs != 1 {
		t.Fatalf("backup after forget: %v %+v", err, r3)
	}
}

// A prune that starts while another compacts the hub (another computer's
// cron job) does its sound part and says so: it compacts nothing and
// deletes no blob, those wait for the next prune, which deletes them.
func TestPruneDuringAnotherPruneDoesNotCompact(t *testing.T) {
	ctx := context.Background()
	be, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tmp, src := t.TempDir(), t.TempDir()
	h := contenthub.New(be)
	for _, content := range []string{"old", "older", "the bin today"} {
		os.WriteFile(filepath.Join(src, "a"), []byte(content), 0o644)
		if _, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp}); err != nil {
			t.Fatal(err)
		}
	}
	var second *PruneResult
	var errSecond error
	first, err := Prune(ctx, contenthub.New(be), PruneOptions{Policy: Policy{Last: 2}, TempDir: tmp,
		Env: run.Env{User: "ana", Host: "edit-1"},
		CompactHook: func(step string) {
			if step == "indexed" && second == nil {
				second, errSecond = Prune(ctx, contenthub.New(be), PruneOptions{Policy: Policy{Last: 1}, TempDir: tmp})
			}
		}})
	if err != nil || first.BlobsDeleted != 1 || first.NotCompacted != "" {
		t.Fatalf("the first prune: %v %+v", err, first)
	}
	if errSecond != nil || second == nil || second.BlobsDeleted != 0 || second.Compact != nil || second.BlobsPending != 1 ||
		!strings.Contains(second.NotCompacted, "(ana@edit-1, pid") {
		t.Fatalf("the prune during the first one's compaction: %v %+v", errSecond, second)
	}
	if cr, err := Check(ctx, h, CheckOptions{ReadData: true, TempDir: tmp}); err != nil || !cr.OK() {
		t.Fatalf("check: %v %+v", err, cr)
	}
	third, err := Prune(ctx, contenthub.New(be), PruneOptions{Policy: Policy{Last: 1}, TempDir: tmp})
	if err != nil || third.BlobsDeleted != 1 || third.NotCompacted != "" {
		t.Fatalf("the next prune: %v %+v", err, third)
	}
}
