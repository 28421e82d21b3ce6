package backup

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

// A dry run of many small files asks the hub a few questions, not one per
// file, and still tells what is there (packed, or stored on its own by an
// editkit from before packs) from what is not.
func TestDryRunOfSmallFilesMakesFewRequests(t *testing.T) {
	const files, bound = 600, 10
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := smallProject(t, files)
	// A third of the project is in the hub already: backed up (packed).
	if res, err := Run(ctx, contenthub.New(b), Options{Set: "s", Paths: []string{filepath.Join(src, "Bins 00"), filepath.Join(src, "Bins 01")}, TempDir: t.TempDir()}); err != nil || !res.OK() {
		t.Fatalf("backup: %v %+v", err, res)
	}
	// One more bin is a blob of its own, as older hubs stored them.
	loose, err := os.ReadFile(filepath.Join(src, "Bins 05", "bin 00500.avb"))
	if err != nil {
		t.Fatal(err)
	}
	sum := hashing.SumBLAKE3(loose)
	if err := b.Put(ctx, contenthub.BlobKey(hex.EncodeToString(sum[:])), backend.BytesSource(loose), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cb := &countingBackend{Backend: b}
	res, err := Run(ctx, contenthub.New(cb), Options{Set: "s", Paths: []string{src}, TempDir: t.TempDir(), DryRun: true})
	if err != nil || !res.OK() {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if want := int64(files-200-1) * 1536; res.ToUpload != want {
		t.Errorf("dry run: %d bytes to upload, want %d (all but the 201 bins in the hub)", res.ToUpload, want)
	}
	t.Logf("dry run of %d small files: %s", files, cb)
	if cb.total() > bound {
		t.Errorf("dry run of %d small files: %s; want at most %d", files, cb, bound)
	}
}
