package contenthub_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
)

// The hub's layout is this package's alone: no other package's code
// spells a prefix of the hub (tests may, to build or check a hub by hand).
// A second copy of a key format is how a reader and a writer come to
// disagree on where something is.
func TestOnlyTheHubKnowsItsLayout(t *testing.T) {
	prefixes := []string{"blobs/", "packs/", "index/", "snapshots/", "events/", "prune/", "repair/", "catalog/checkpoints/"}
	var leaks []string
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || path == "../../internal/contenthub") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				for _, p := range prefixes {
					if strings.HasPrefix(s, p) {
						leaks = append(leaks, fset.Position(lit.Pos()).String()+": "+lit.Value)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(leaks) > 0 {
		t.Errorf("hub keys spelled outside package contenthub; ask the hub instead:\n%s", strings.Join(leaks, "\n"))
	}
}

// Blobs lists blobs only: what else lies under blobs/ (a stray file on a
// NAS share, a name that is no BLAKE3, one filed in the wrong folder) is
// no blob, so prune never deletes it and hub check never counts it.
func TestBlobsListsOnlyBlobs(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("content"), 0o644)
	b3 := strings.Repeat("ab", 32)
	if _, err := h.PutBlob(ctx, b3, src); err != nil {
		t.Fatal(err)
	}
	put(t, h, "blobs/ab/notes.txt", []byte("x"))
	put(t, h, "blobs/cd/"+b3, []byte("misfiled"))
	put(t, h, "blobs/ab/"+strings.ToUpper(b3), []byte("x"))
	var got []contenthub.BlobInfo
	for b, err := range h.Blobs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if len(got) != 1 || got[0].B3 != b3 || got[0].Size != 7 || got[0].Modified.IsZero() {
		t.Fatalf("Blobs = %+v, want only %s (7 bytes)", got, b3)
	}
	// A download resumes where it stopped.
	rc, err := h.OpenBlob(ctx, b3, 3)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(rc)
	rc.Close()
	if string(rest) != "tent" {
		t.Fatalf("OpenBlob from 3 = %q", rest)
	}
	if err := h.DeleteBlob(ctx, b3); err != nil {
		t.Fatal(err)
	}
	if has, err := h.HasBlob(ctx, b3); err != nil || has {
		t.Fatalf("HasBlob after DeleteBlob = %v, %v", has, err)
	}
}

// FirstEventKeyAt bounds the keys of batches by arrival time, which is what
// a catalog checkpoint's late-arrival window is measured with.
func TestFirstEventKeyAt(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 500_000_000, time.UTC)
	bound := contenthub.FirstEventKeyAt(at)
	for _, c := range []struct {
		arrived time.Time
		after   bool
	}{
		{at, true},
		{at.Add(time.Microsecond), true},
		{at.Add(-time.Microsecond), false},
		{at.Add(24 * time.Hour), true},
		{at.Add(-24 * time.Hour), false},
		{at.In(time.FixedZone("x", -5*3600)).Add(time.Second), true},
	} {
		if k := contenthub.NewEventKey(c.arrived); (k > bound) != c.after {
			t.Errorf("key %s (arrived %v) after %s = %v, want %v", k, c.arrived, bound, k > bound, c.after)
		}
	}
}

// A checkpoint is named after the batch it folds through, so checkpoints
// list in log order; writing one that exists (another reader folded the
// same log) keeps it.
func TestCheckpoints(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var want []string
	for i, d := range []time.Duration{0, time.Hour, 48 * time.Hour} {
		through := contenthub.NewEventKey(base.Add(d))
		name, err := h.WriteCheckpoint(ctx, through, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if again, err := h.WriteCheckpoint(ctx, through, []byte("other")); err != nil || again != name {
			t.Fatalf("rewriting %s: %s, %v", name, again, err)
		}
		want = append(want, name)
	}
	got, err := h.Checkpoints(ctx)
	if err != nil || !slices.Equal(got, want) || !slices.IsSorted(got) {
		t.Fatalf("Checkpoints = %v, %v; want %v", got, err, want)
	}
	for i, name := range got {
		rc, err := h.OpenCheckpoint(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if len(data) != 1 || data[0] != byte(i) {
			t.Errorf("checkpoint %s holds %q", name, data)
		}
	}
}
