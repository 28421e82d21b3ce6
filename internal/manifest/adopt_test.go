package manifest

import (
	"context"
	"encoding/xml"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/mhl"
)

// md5Drive makes a drive another tool prepared: three files and a history
// that records them in md5 only.
func md5Drive(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := []string{"Clips/A.mov", "Clips/B.mov", "Sound/s.wav"}
	for _, p := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte("content of "+p), 0o644)
	}
	entries := func(yield func(mhl.Entry, error) bool) {
		for _, p := range files {
			b, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
			var hs []mhl.Hash
			for _, f := range []mhl.Format{mhl.MD5, mhl.XXH128} {
				h, _ := mhl.NewHash(f)
				h.Write(b)
				hs = append(hs, mhl.Hash{Format: f, Digest: h.Digest(), Action: mhl.Original})
			}
			// md5 is recorded; xxh128 only feeds the directory hashes.
			e := mhl.Entry{Path: p, Size: int64(len(b)), Hashes: hs[:1], Listed: true}
			if !yield(e, nil) {
				return
			}
		}
	}
	g := mhl.Generation{Process: mhl.ProcessInPlace, Created: t0, Host: "dit-cart", Tool: "another tool", DirHashFormat: mhl.MD5}
	if _, err := mhl.WriteGeneration(root, g, iter.Seq2[mhl.Entry, error](entries)); err != nil {
		t.Fatal(err)
	}
	return root
}

// actionsIn returns "path format=action" for every hash of a generation.
func actionsIn(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Hashes []struct {
			Path   string `xml:"path"`
			Values []struct {
				XMLName xml.Name
				Action  string `xml:"action,attr"`
			} `xml:",any"`
		} `xml:"hashes>hash"`
	}
	if err := xml.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range g.Hashes {
		for _, v := range h.Values {
			if v.XMLName.Local != "path" {
				out = append(out, h.Path+" "+v.XMLName.Local+"="+v.Action)
			}
		}
	}
	slices.Sort(out)
	return out
}

// An adoption cut short keeps what it checked (nothing is read twice) and
// a generation written afterwards records those files "verified", never
// "original" — the history knew them, in md5. The next run adopts the
// rest and records each in both formats; a run after that has nothing to
// do.
func TestAdoptHistoryInterruptedThenResumed(t *testing.T) {
	root := md5Drive(t)
	d, err := Create(root, "CARDS", t0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := d.AdoptHistory(ctx, AdoptOptions{Jobs: 1, Now: t0, Progress: cancelOnFileDone(cancel)})
	if err != context.Canceled || a.Adopted != 1 {
		t.Fatalf("interrupted adoption: adopted %d, err %v; want 1, context.Canceled", a.Adopted, err)
	}
	gen, err := d.AddMHLGeneration(mhl.Generation{Process: mhl.ProcessTransfer, Created: t0.Add(time.Minute), Tool: "editkit"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := actionsIn(t, gen); !slices.Equal(got, []string{"Clips/A.mov xxh128=verified"}) {
		t.Errorf("generation after the interrupted adoption: %v", got)
	}

	os.WriteFile(filepath.Join(root, "Sound", "s.wav"), []byte("damaged"), 0o644)
	a, err = d.AdoptHistory(context.Background(), AdoptOptions{Now: t0.Add(2 * time.Minute)})
	if err != nil || a.Adopted != 1 || len(a.Damaged) != 1 || a.Damaged[0].Path != "Sound/s.wav" {
		t.Fatalf("resumed adoption: %+v, %v", a, err)
	}
	gen, err = d.AddMHLGeneration(mhl.Generation{Process: mhl.ProcessTransfer, Created: t0.Add(3 * time.Minute), Tool: "editkit"}, nil, a.Files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Clips/B.mov md5=verified", "Clips/B.mov xxh128=verified", "Sound/s.wav md5=failed", "Sound/s.wav xxh128=failed"}
	if got := actionsIn(t, gen); !slices.Equal(got, want) {
		t.Errorf("generation after the resumed adoption: %v, want %v", got, want)
	}
	if got := paths(collect(t, d)); !slices.Equal(got, []string{"Clips/A.mov", "Clips/B.mov"}) {
		t.Errorf("manifest holds %v: the damaged file must stay out", got)
	}

	a, err = d.AdoptHistory(context.Background(), AdoptOptions{Now: t0.Add(4 * time.Minute)})
	if err != nil || a.Adopted != 0 || len(a.Damaged) != 0 {
		t.Errorf("third adoption found work again: %+v, %v", a, err)
	}
}

// A history whose chain does not check out is not adopted.
func TestAdoptHistoryBrokenChain(t *testing.T) {
	root := md5Drive(t)
	gens, _ := filepath.Glob(filepath.Join(root, "ascmhl", "0001_*.mhl"))
	b, _ := os.ReadFile(gens[0])
	os.WriteFile(gens[0], append(b, ' '), 0o644)
	d, err := Create(root, "CARDS", t0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var ce *ChainError
	if _, err := d.AdoptHistory(context.Background(), AdoptOptions{Now: t0}); !errorsAs(err, &ce) {
		t.Fatalf("AdoptHistory of a tampered history: %v, want a ChainError", err)
	}
	if got := collect(t, d); len(got) != 0 {
		t.Errorf("a tampered history's files were adopted: %v", paths(got))
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// cancelOnFileDone is a progress that interrupts the run when the first
// file is done.
type cancelOnFileDone func()

func (c cancelOnFileDone) AddTotal(int64, int) {}
func (c cancelOnFileDone) Add(int64)           {}
func (c cancelOnFileDone) FileDone()           { c() }
