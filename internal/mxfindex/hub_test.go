package mxfindex

import (
	"context"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/mxf/mxftest"
)

// countingBackend counts the blob range requests and the bytes read.
type countingBackend struct {
	backend.Backend
	gets, bytes atomic.Int64
}

func (c *countingBackend) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := c.Backend.Get(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	c.gets.Add(1)
	return &countingReader{rc, &c.bytes}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// Indexing the hub reads each blob's header through a few range requests,
// never the whole blob, and the catalog item gets exactly the header's Info.
func TestHubReadsOnlyHeaders(t *testing.T) {
	paths, infos := mxftest.Clip(t, t.TempDir(), "long", mxftest.Opts{Frames: 60, Audio: -1, Tape: "A007"})
	local, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sum, err := hashing.HashFile(ctx, paths[0], hashing.FileOptions{BLAKE3: true})
	if err != nil {
		t.Fatal(err)
	}
	setup := contenthub.New(local)
	if _, err := setup.PutBlob(ctx, sum.BLAKE3Hex(), paths[0]); err != nil {
		t.Fatal(err)
	}
	ev := event.New(time.Now(), event.Pushed)
	ev.Path, ev.Size, ev.Hash = "MXF/"+filepath.Base(paths[0]), sum.Size, sum.BLAKE3Hex()
	if err := setup.Record(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}

	cb := &countingBackend{Backend: local}
	res, err := Hub(ctx, contenthub.New(cb), HubOptions{User: "ae"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Indexed != 1 || res.Unreadable != 0 {
		t.Fatalf("result %+v, want 1 indexed", res)
	}
	t.Logf("%d requests, %d bytes read of a %d-byte blob", cb.gets.Load(), cb.bytes.Load(), sum.Size)
	// Gets also count the catalog's own reads (event batches): the blob's
	// are the ones beyond them.
	if read := cb.bytes.Load(); read >= sum.Size/2 {
		t.Errorf("read %d bytes of a %d-byte blob: more than its header", read, sum.Size)
	}
	state, _, err := catalog.Load(ctx, contenthub.New(local), time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	it := state.Items[ev.Path]
	if it == nil || it.MXF == nil || *it.MXF != infos[0] {
		t.Fatalf("catalog item %+v, want MXF %+v", it, infos[0])
	}
	again, err := Hub(ctx, contenthub.New(local), HubOptions{})
	if err != nil || again.Indexed != 0 || again.Already != 1 {
		t.Errorf("second run: %+v, %v; want nothing to do", again, err)
	}
}
