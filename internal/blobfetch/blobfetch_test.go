package blobfetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/place"
	"github.com/zeebo/blake3"
)

// hubWith makes a folder hub holding the given contents and returns their
// BLAKE3s.
func hubWith(t *testing.T, contents ...[]byte) (*contenthub.Hub, string, []string) {
	t.Helper()
	dir := t.TempDir()
	be, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(be)
	var b3s []string
	for i, c := range contents {
		b3 := fmt.Sprintf("%x", blake3.Sum256(c))
		p := filepath.Join(t.TempDir(), fmt.Sprint(i))
		os.WriteFile(p, c, 0o644)
		if _, err := h.PutBlob(context.Background(), b3, p); err != nil {
			t.Fatal(err)
		}
		b3s = append(b3s, b3)
	}
	return h, dir, b3s
}

// fetchAll fetches items under a fresh root and returns what done said.
func fetchAll(t *testing.T, h *contenthub.Hub, items []Item) (string, map[string]Placed) {
	t.Helper()
	root := t.TempDir()
	pr, err := place.Open(root, place.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]Placed{}
	f := New(context.Background(), h, pr, Options{Jobs: 3, Source: "the test"}, func(p Placed) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[p.Rel]; dup {
			t.Errorf("%s reported twice", p.Rel)
		}
		got[p.Rel] = p
	})
	for _, it := range items {
		f.Add(it)
	}
	f.Wait()
	return root, got
}

// Small files, one blob shared by two of them and an empty one, all land
// with their content and time; a big one takes its own download.
func TestFetchGroupsAndBigFile(t *testing.T) {
	bin := []byte("an Avid bin")
	big := make([]byte, SmallMax+4096)
	for i := range big {
		big[i] = byte(i * 7)
	}
	h, _, b3s := hubWith(t, bin, []byte{}, big)
	mt := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	items := []Item{
		{Rel: "Bins/a.avb", B3: b3s[0], Size: int64(len(bin)), MTime: mt, Perm: 0o644},
		{Rel: "Bins/copy of a.avb", B3: b3s[0], Size: int64(len(bin)), MTime: mt, Perm: 0o644},
		{Rel: "Bins/empty.avb", B3: b3s[1], Size: 0, MTime: mt, Perm: 0o644},
		{Rel: "Media/big.mxf", B3: b3s[2], Size: int64(len(big)), MTime: mt, Perm: 0o644},
	}
	root, got := fetchAll(t, h, items)
	want := map[string][]byte{"Bins/a.avb": bin, "Bins/copy of a.avb": bin, "Bins/empty.avb": {}, "Media/big.mxf": big}
	for rel, content := range want {
		p := got[rel]
		if p.Err != nil || p.Info == nil || !p.Info.ModTime().Equal(mt) || p.XXH128 == "" {
			t.Fatalf("%s: %+v", rel, p)
		}
		if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); err != nil || string(b) != string(content) {
			t.Fatalf("%s: %d bytes, %v", rel, len(b), err)
		}
	}
}

// A damaged blob and a missing one fail exactly their files, named; the
// rest of the group lands and nothing is left at the failed names.
func TestFetchBadBlobFailsOnlyItsFile(t *testing.T) {
	var contents [][]byte
	for i := range 10 {
		contents = append(contents, []byte(fmt.Sprintf("bin number %d", i)))
	}
	h, dir, b3s := hubWith(t, contents...)
	damaged := filepath.Join(dir, "blobs", b3s[3][:2], b3s[3])
	os.Chmod(damaged, 0o644)
	if err := os.WriteFile(damaged, []byte("bin number X"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := fmt.Sprintf("%x", blake3.Sum256([]byte("never uploaded")))
	var items []Item
	for i, c := range contents {
		items = append(items, Item{Rel: fmt.Sprintf("Bins/%d.avb", i), B3: b3s[i], Size: int64(len(c)), Perm: 0o644})
	}
	items = append(items, Item{Rel: "Bins/missing.avb", B3: missing, Size: 14, Perm: 0o644})
	root, got := fetchAll(t, h, items)
	var bad *BadDataError
	if !errors.As(got["Bins/3.avb"].Err, &bad) {
		t.Fatalf("damaged blob: %v, want a BadDataError", got["Bins/3.avb"].Err)
	}
	if err := got["Bins/missing.avb"].Err; err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing blob: %v, want an error naming it", err)
	}
	for i := range contents {
		rel := fmt.Sprintf("Bins/%d.avb", i)
		_, statErr := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if i == 3 {
			if statErr == nil {
				t.Fatal("the damaged file is at its final name")
			}
			continue
		}
		if got[rel].Err != nil || statErr != nil {
			t.Fatalf("%s: %v, %v", rel, got[rel].Err, statErr)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "Bins"))
	for _, e := range entries {
		if place.IsTemp(e.Name()) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
