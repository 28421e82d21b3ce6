package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
)

// A backup, a rerun, a restore and a prune in one process, under -race:
// the walk, the hashing workers and the snapshot writer share state.
func TestBackupRestoreInProcess(t *testing.T) {
	ctx := context.Background()
	be, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(be)
	src := filepath.Join(t.TempDir(), "Project")
	for i := 0; i < 300; i++ {
		p := filepath.Join(src, fmt.Sprintf("Bins %d", i%7), fmt.Sprintf("bin %03d.avb", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 1000+i), 0o644)
	}
	tmp := t.TempDir()
	r1, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp, Jobs: 8})
	if err != nil || !r1.OK() || r1.Files != 300 || r1.Blobs != 300 {
		t.Fatalf("first backup: %v %+v", err, r1)
	}
	os.WriteFile(filepath.Join(src, "Bins 0", "bin 000.avb"), []byte("changed"), 0o644)
	os.Remove(filepath.Join(src, "Bins 1", "bin 001.avb"))
	r2, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp, Jobs: 8})
	if err != nil || r2.Changed != 1 || r2.Removed != 1 || r2.Unchanged != 298 || r2.Blobs != 1 {
		t.Fatalf("second backup: %v %+v", err, r2)
	}
	to := t.TempDir()
	rr, err := Restore(ctx, h, RestoreOptions{Snapshot: "latest", To: to, TempDir: tmp, Jobs: 8})
	if err != nil || !rr.OK() || rr.Restored != 299 {
		t.Fatalf("restore: %v %+v", err, rr)
	}
	got, _ := os.ReadFile(filepath.Join(to, "Project", "Bins 0", "bin 000.avb"))
	if string(got) != "changed" {
		t.Fatalf("restored %q", got)
	}
	// With a grace period, blobs uploaded moments ago are left alone.
	pr, err := Prune(ctx, h, PruneOptions{Policy: Policy{Last: 1}, Grace: time.Hour, TempDir: tmp, DryRun: true})
	if err != nil || len(pr.Removed) != 1 || pr.BlobsDeleted != 0 {
		t.Fatalf("prune with a grace period: %v %+v", err, pr)
	}
	// Without one, the two versions nothing uses any more go at once.
	pr, err = Prune(ctx, h, PruneOptions{Policy: Policy{Last: 1}, TempDir: tmp})
	if err != nil || len(pr.Removed) != 1 || pr.BlobsDeleted != 2 {
		t.Fatalf("prune: %v %+v", err, pr)
	}
	cr, err := Check(ctx, h, CheckOptions{ReadData: true, TempDir: tmp})
	if err != nil || !cr.OK() {
		t.Fatalf("check: %v %+v", err, cr)
	}
}
