package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// An index object lost (or a backup killed between its pack and its
// index, long ago): hub check names the pack no index names and the files
// whose content is then missing; --repair rebuilds the index from the
// packs' own headers, and the hub is whole again.
func TestHubCheckRebuildsALostIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	be, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	src := smallProject(t, 300)
	tmp := t.TempDir()
	if _, err := Run(ctx, contenthub.New(be), Options{Set: "s", Paths: []string{src}, TempDir: tmp}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	later := run.Env{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	cr, err := Check(ctx, contenthub.New(be), CheckOptions{TempDir: tmp, Env: later})
	if err != nil || cr.OK() || len(cr.Problems) != 300 || len(cr.Index) != 1 || !strings.Contains(cr.Index[0], "named by no index") {
		t.Fatalf("check with the index lost: %v %+v", err, cr)
	}
	cr, err = Check(ctx, contenthub.New(be), CheckOptions{ReadData: true, Repair: true, TempDir: tmp, Env: later})
	if err != nil || !cr.OK() || !cr.IndexRebuilt || len(cr.IndexRepaired) != 1 || cr.Checked != 300 {
		t.Fatalf("check --repair: %v %+v", err, cr)
	}
	rr, err := Restore(ctx, contenthub.New(be), RestoreOptions{Snapshot: "latest", To: t.TempDir(), TempDir: tmp})
	if err != nil || !rr.OK() || rr.Restored != 300 {
		t.Fatalf("restore after the repair: %v %+v", err, rr)
	}
}
