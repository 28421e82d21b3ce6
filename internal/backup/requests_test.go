package backup

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test/s3open"
)

// countingBackend counts the requests made to the hub's storage.
type countingBackend struct {
	backend.Backend
	puts, gets, stats, lists, deletes atomic.Int64
}

func (c *countingBackend) Put(ctx context.Context, key string, src backend.Source, o backend.PutOptions) error {
	c.puts.Add(1)
	return c.Backend.Put(ctx, key, src, o)
}

func (c *countingBackend) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Backend.Get(ctx, key, off, n)
}

func (c *countingBackend) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	c.stats.Add(1)
	return c.Backend.Stat(ctx, key)
}

func (c *countingBackend) List(ctx context.Context, prefix string) iter.Seq2[backend.ObjectInfo, error] {
	c.lists.Add(1)
	return c.Backend.List(ctx, prefix)
}

func (c *countingBackend) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Backend.Delete(ctx, key)
}

func (c *countingBackend) total() int64 {
	return c.puts.Load() + c.gets.Load() + c.stats.Load() + c.lists.Load() + c.deletes.Load()
}

func (c *countingBackend) String() string {
	return fmt.Sprintf("%d requests (%d puts, %d gets, %d stats, %d lists, %d deletes)",
		c.total(), c.puts.Load(), c.gets.Load(), c.stats.Load(), c.lists.Load(), c.deletes.Load())
}

// smallProject writes n files of 1.5 KB in folders of 100.
func smallProject(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "Project")
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("Bins %02d", i/100), fmt.Sprintf("bin %05d.avb", i))
		if i%100 == 0 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		data := make([]byte, 1536)
		copy(data, fmt.Sprintf("bin %d", i))
		os.WriteFile(p, data, 0o644)
	}
	return src
}

// A first backup of 2000 small files makes a few dozen requests, not one
// (or two: a HEAD, then a PUT) per file: the blobs go up in a pack, and
// whether the hub has them is asked of the index. Then a restore reads
// them back in a few requests. On a folder hub and on the S3 server.
func TestFirstBackupOfSmallFilesMakesFewRequests(t *testing.T) {
	const files, bound = 2000, 50
	stores := map[string]func(t *testing.T) backend.Backend{
		"folder": func(t *testing.T) backend.Backend {
			b, err := backend.OpenLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"s3": func(t *testing.T) backend.Backend {
			_, b := s3open.Start(t, "hub")
			return b
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cb := &countingBackend{Backend: open(t)}
			h := contenthub.New(cb)
			src := smallProject(t, files)
			tmp := t.TempDir()
			res, err := Run(ctx, h, Options{Set: "s", Paths: []string{src}, TempDir: tmp})
			if err != nil || !res.OK() || res.Files != files || res.Blobs != files {
				t.Fatalf("backup: %v %+v", err, res)
			}
			t.Logf("%s: first backup of %d files of 1.5 KB: %s", name, files, cb)
			if cb.total() > bound {
				t.Errorf("first backup of %d small files: %s; want at most %d", files, cb, bound)
			}
			// Reading them all back (what restore and pull do through
			// ReadBlobs) is a few range requests too.
			snap, err := h.LatestSnapshot(ctx, "s", func(*contenthub.Snapshot) bool { return true })
			if err != nil || snap == nil {
				t.Fatalf("latest snapshot: %v", err)
			}
			var b3s []string
			for e, err := range h.Entries(ctx, snap, tmp) {
				if err != nil {
					t.Fatal(err)
				}
				if !e.Dir {
					b3s = append(b3s, e.B3)
				}
			}
			reading := &countingBackend{Backend: cb.Backend}
			var n atomic.Int64
			start := time.Now()
			err = contenthub.New(reading).ReadBlobs(ctx, b3s, func(_ string, r io.Reader) error {
				m, err := io.Copy(io.Discard, r)
				n.Add(m)
				return err
			})
			if err != nil || n.Load() != files*1536 {
				t.Fatalf("ReadBlobs: %v, %d bytes", err, n.Load())
			}
			t.Logf("%s: ReadBlobs of %d blobs: %s, %v", name, len(b3s), reading, time.Since(start))
			if reading.total() > 10 {
				t.Errorf("ReadBlobs of %d packed blobs: %s; want at most 10", len(b3s), reading)
			}
			restoring := &countingBackend{Backend: cb.Backend}
			rr, err := Restore(ctx, contenthub.New(restoring), RestoreOptions{Snapshot: "latest", To: t.TempDir(), TempDir: tmp})
			if err != nil || !rr.OK() || rr.Restored != files {
				t.Fatalf("restore: %v %+v", err, rr)
			}
			t.Logf("%s: restore of %d files: %s", name, files, restoring)
		})
	}
}
