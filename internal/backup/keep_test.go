package backup

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/run"
)

// What prune keeps, blob by blob: a blob a kept snapshot or the catalog
// uses is never deleted; one nobody uses is deleted once it has been
// unreferenced for the grace period, and a dry run deletes nothing.
func TestPruneDecidesWhichBlobsGo(t *testing.T) {
	// Three nightly backups of one project file: v1, v2, v3. Set "other"
	// has one backup of its own.
	const (
		v1, v2, v3 = "cut v1", "cut v2 — longer", "cut v3 — longest of all"
		otherSet   = "other set's file"
	)
	// The clock starts ahead of the blob files' real modification times,
	// which the grace period is measured against.
	day := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	cases := []struct {
		name string
		// prunes run one after another, each at its offset from the last
		// backup, with its options (Set and Policy default below).
		prunes  []time.Duration
		opts    func(*PruneOptions)
		present map[string]bool // after the last prune: is the blob still there
		pending int64           // the last prune's BlobsPending
	}{
		{"last 1, no grace: what only removed snapshots used goes", []time.Duration{time.Hour}, nil,
			map[string]bool{v1: false, v2: false, v3: true, otherSet: true}, 0},
		{"last 2 keeps two versions", []time.Duration{time.Hour}, func(o *PruneOptions) { o.Policy = Policy{Last: 2} },
			map[string]bool{v1: false, v2: true, v3: true, otherSet: true}, 0},
		{"grace: first marked, not deleted", []time.Duration{time.Hour}, func(o *PruneOptions) { o.Grace = 24 * time.Hour },
			map[string]bool{v1: true, v2: true, v3: true, otherSet: true}, 2},
		{"grace: a prune within it deletes nothing yet", []time.Duration{time.Hour, 5 * time.Hour}, func(o *PruneOptions) { o.Grace = 24 * time.Hour },
			map[string]bool{v1: true, v2: true, v3: true, otherSet: true}, 2},
		{"grace: a prune after it deletes", []time.Duration{time.Hour, 26 * time.Hour}, func(o *PruneOptions) { o.Grace = 24 * time.Hour },
			map[string]bool{v1: false, v2: false, v3: true, otherSet: true}, 0},
		{"the catalog's blobs stay", []time.Duration{time.Hour}, func(o *PruneOptions) {
			o.ExtraRefs = func(_ context.Context, add func(b3, where string)) error {
				add(b3Of(v1), "catalog: VFX_010")
				return nil
			}
		}, map[string]bool{v1: true, v2: false, v3: true, otherSet: true}, 0},
		{"dry run deletes nothing", []time.Duration{time.Hour}, func(o *PruneOptions) { o.DryRun = true },
			map[string]bool{v1: true, v2: true, v3: true, otherSet: true}, 0},
		{"every set: the other set's only snapshot is its last", []time.Duration{time.Hour}, func(o *PruneOptions) { o.Set = "" },
			map[string]bool{v1: false, v2: false, v3: true, otherSet: true}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			be, err := backend.OpenLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			h := contenthub.New(be)
			tmp, src, other := t.TempDir(), t.TempDir(), t.TempDir()
			now := day
			clock := func() time.Time { return now }
			backup := func(set, dir, content string) {
				os.WriteFile(filepath.Join(dir, "cut.avb"), []byte(content), 0o644)
				if _, err := Run(ctx, h, Options{Set: set, Paths: []string{dir}, TempDir: tmp, Env: run.Env{Now: clock}}); err != nil {
					t.Fatal(err)
				}
				now = now.Add(24 * time.Hour)
			}
			backup("other", other, otherSet)
			backup("film", src, v1)
			backup("film", src, v2)
			backup("film", src, v3)
			last := now.Add(-24 * time.Hour)
			var res *PruneResult
			for _, after := range c.prunes {
				now = last.Add(after)
				o := PruneOptions{Set: "film", Policy: Policy{Last: 1}, TempDir: tmp, Env: run.Env{Now: clock}}
				if c.opts != nil {
					c.opts(&o)
				}
				if res, err = Prune(ctx, h, o); err != nil || !res.OK() {
					t.Fatalf("prune at +%s: %v %+v", after, err, res)
				}
			}
			for content, want := range c.present {
				if got, err := h.HasBlob(ctx, b3Of(content)); err != nil || got != want {
					t.Errorf("blob of %q present: %v (%v), want %v", content, got, err, want)
				}
			}
			if res.BlobsPending != c.pending {
				t.Errorf("%d blobs pending, want %d", res.BlobsPending, c.pending)
			}
		})
	}
}

func b3Of(content string) string {
	s := hashing.SumBLAKE3([]byte(content))
	return hex.EncodeToString(s[:])
}
