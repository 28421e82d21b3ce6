package mxfindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/mxf"
)

// HubOptions says who indexes the hub's catalog, and when.
type HubOptions struct {
	User, Host string
	Now        func() time.Time
	// Jobs is how many blobs' headers are read at once (default 4: each
	// is a few round trips to the hub).
	Jobs int
}

// eventsPerBatch is how many "indexed" events go to the hub's log at once:
// an interrupted run keeps every batch it recorded.
const eventsPerBatch = 500

// Hub indexes the hub's catalog: each item of an MXF file without metadata
// gets it, read from the header of its blob (a few range reads, never the
// whole blob), recorded as an "indexed" event the catalog folds into the
// item while it still has that content. The header bytes are not checked
// against the blob's hash (that needs the whole blob; `hub check` does it).
func Hub(ctx context.Context, h *contenthub.Hub, o HubOptions) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	state, _, err := catalog.Load(ctx, h, o.Now(), true)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var todo []*catalog.Item
	for _, it := range state.Items {
		switch {
		case it.MXF != nil:
			res.Already++
		case !mxf.IsMXFName(it.Path):
			res.NotMXF++
		default:
			todo = append(todo, it)
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].Path < todo[j].Path })
	for len(todo) > 0 && ctx.Err() == nil {
		n := min(len(todo), eventsPerBatch)
		evs := readBlobHeaders(ctx, h, todo[:n], o, res)
		todo = todo[n:]
		if len(evs) > 0 {
			if err := h.Record(ctx, evs); err != nil {
				return res, fmt.Errorf("recording MXF metadata in the catalog: %w", err)
			}
		}
	}
	return res, ctx.Err()
}

// readBlobHeaders reads the headers of items' blobs, o.Jobs at once, and
// returns the events recording the ones read, in the items' order.
func readBlobHeaders(ctx context.Context, h *contenthub.Hub, items []*catalog.Item, o HubOptions, res *Result) []event.Event {
	infos := make([]*mxf.Info, len(items))
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range o.Jobs {
		wg.Go(func() {
			for i := range next {
				it := items[i]
				infos[i], errs[i] = mxf.ReadHeader(&blobReader{ctx: ctx, h: h, b3: it.B3, size: it.Size}, it.Size)
			}
		})
	}
	for i := range items {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	var evs []event.Event
	for i, it := range items {
		if ctx.Err() != nil && infos[i] == nil && errs[i] == nil {
			continue // not read: the next run does it
		}
		if errors.Is(errs[i], context.Canceled) || errors.Is(errs[i], context.DeadlineExceeded) {
			continue
		}
		err := errs[i]
		if err != nil && !errors.Is(err, mxf.ErrNotMXF) {
			err = fmt.Errorf("blob %s: %w", it.B3, err)
		}
		info := res.outcome(it.Path, infos[i], err)
		if info == nil {
			continue
		}
		ev := event.New(o.Now(), event.Indexed)
		ev.User, ev.Host, ev.Path, ev.Size, ev.Hash, ev.MXF = o.User, o.Host, it.Path, it.Size, it.B3, info
		evs = append(evs, ev)
	}
	return evs
}

// blobReader reads a blob at offsets through the hub, a window at a time:
// ReadHeader's reads (the first bytes, the partition pack, the metadata)
// then take one to three requests.
type blobReader struct {
	ctx    context.Context
	h      *contenthub.Hub
	b3     string
	size   int64
	win    []byte
	winOff int64
}

// readWindow is the least a request fetches.
const readWindow = 64 << 10

func (b *blobReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= b.size {
		return 0, io.EOF
	}
	if off < b.winOff || off+int64(len(p)) > b.winOff+int64(len(b.win)) {
		n := min(max(int64(len(p)), readWindow), b.size-off)
		rc, err := b.h.OpenBlob(b.ctx, b.b3, off)
		if err != nil {
			return 0, err
		}
		win := make([]byte, n)
		_, err = io.ReadFull(rc, win)
		rc.Close()
		if err != nil {
			return 0, err
		}
		b.win, b.winOff = win, off
	}
	n := copy(p, b.win[off-b.winOff:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
