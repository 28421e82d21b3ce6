// Package blobfetch owns fetching hub blobs into files under a root (what
// restore and pull do): each file written beside its final name, checked
// against its BLAKE3, synced, read back from the medium and only then
// renamed into place, all through package place.
//
// Small blobs (up to SmallMax) are fetched in groups: one ReadBlobs call per
// group (the hub reads them with few requests), the group's files written
// at once and placed as one place.Batch (synced together, read back
// together, each folder synced once). A big blob keeps its own resumable
// download: a killed run's temporary file is hashed and the rest fetched by
// range from where it stopped.
package blobfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
)

const (
	// SmallMax is the largest blob fetched in a group: the size below
	// which a file's syncs and round trips cost more than its bytes; above
	// it the bytes dominate and a resumable download of its own is worth
	// having.
	SmallMax = place.SmallFile
	// groupFiles and groupBytes bound a group: its blobs are held in
	// memory one at a time, its open temporary files number groupFiles.
	groupFiles = 256
	groupBytes = 16 << 20
)

// Item is one file to fetch.
type Item struct {
	Rel     string // tree path under the root
	B3      string // the blob, and what the file must hash to
	Size    int64
	MTime   time.Time
	Perm    os.FileMode
	Replace bool // a file of exactly this name at Rel may be replaced
}

// Placed is what became of an item: placed (Info, XXH128) or not (Err).
type Placed struct {
	Item
	Info   fs.FileInfo
	XXH128 string
	Err    error
}

// BadDataError means the bytes the hub gave do not hash to the item's
// BLAKE3.
type BadDataError struct{ Msg string }

func (e *BadDataError) Error() string { return e.Msg }

// Options configure a Fetcher.
type Options struct {
	Jobs     int
	Progress run.Progress
	// Source names where the BLAKE3 came from in messages ("the snapshot").
	Source string
	// Advice ends the message of a file whose data is damaged.
	Advice string
}

// Fetcher fetches the items added to it, Jobs groups or big files at once.
type Fetcher struct {
	h     *contenthub.Hub
	root  *place.Root
	o     Options
	done  func(Placed)
	pool  *run.Pool[[]Item]
	mu    sync.Mutex // guards the group being gathered
	group []Item
	bytes int64
}

// New returns a Fetcher placing files under root; done receives every
// item added, once, from any goroutine. After ctx is cancelled, items not
// yet placed are reported with ctx's error (a big file's partial download
// is kept for the next run to resume).
func New(ctx context.Context, h *contenthub.Hub, root *place.Root, o Options, done func(Placed)) *Fetcher {
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	o.Progress = run.Env{Progress: o.Progress}.WithDefaults().Progress
	f := &Fetcher{h: h, root: root, o: o, done: done}
	f.pool = run.NewPool(ctx, o.Jobs, func(ctx context.Context, items []Item) {
		if len(items) == 1 && items[0].Size > SmallMax {
			f.done(f.single(ctx, items[0]))
			return
		}
		f.fetchGroup(ctx, items)
	})
	return f
}

// Add hands over an item, to be fetched by a worker; it may be called
// from several goroutines.
func (f *Fetcher) Add(it Item) {
	if it.Size > SmallMax {
		f.submit([]Item{it})
		return
	}
	f.mu.Lock()
	f.group = append(f.group, it)
	f.bytes += it.Size
	var full []Item
	if len(f.group) >= groupFiles || f.bytes >= groupBytes {
		full, f.group, f.bytes = f.group, nil, 0
	}
	f.mu.Unlock()
	if full != nil {
		f.submit(full)
	}
}

func (f *Fetcher) submit(items []Item) {
	if err := f.pool.Submit(items); err != nil {
		for _, it := range items {
			f.done(Placed{Item: it, Err: err})
		}
	}
}

// Wait fetches what is left and returns when every item was reported.
// Nothing may be added after.
func (f *Fetcher) Wait() {
	f.mu.Lock()
	rest := f.group
	f.group = nil
	f.mu.Unlock()
	if len(rest) > 0 {
		f.submit(rest)
	}
	f.pool.Wait()
}

// fetchGroup reads a group's blobs with one ReadBlobs call, writes each
// file as its blob arrives and places the files as one batch. A file whose
// blob did not arrive, or arrived wrong, is fetched again on its own, which
// reports its own error.
func (f *Fetcher) fetchGroup(ctx context.Context, items []Item) {
	want := map[string][]Item{}
	var b3s []string
	var ready []*written
	for _, it := range items {
		if it.Size == 0 { // nothing to read; its BLAKE3 is still checked
			if w, err := f.write(it, nil); err == nil {
				ready = append(ready, w)
			} else {
				f.done(Placed{Item: it, Err: err})
			}
			continue
		}
		if want[it.B3] == nil {
			b3s = append(b3s, it.B3)
		}
		want[it.B3] = append(want[it.B3], it)
	}
	arrived := make(chan *written, len(items))
	got := make(chan string, len(b3s))
	f.h.ReadBlobs(ctx, b3s, func(b3 string, r io.Reader) error {
		its := want[b3]
		if len(its) == 0 {
			return nil
		}
		data, err := readBlob(r, its[0].Size)
		if err != nil {
			return fmt.Errorf("blob %s: %w", b3, err)
		}
		got <- b3
		for _, it := range its {
			if w, err := f.write(it, data); err == nil {
				arrived <- w
			} else {
				arrived <- &written{it: it, err: err}
			}
		}
		return nil
	})
	close(arrived)
	close(got)
	delivered := map[string]bool{}
	for b3 := range got {
		delivered[b3] = true
	}
	var again []Item
	for w := range arrived {
		var bad *BadDataError
		switch {
		case errors.As(w.err, &bad):
			again = append(again, w.it)
		case w.err != nil:
			f.done(Placed{Item: w.it, Err: w.err})
		default:
			ready = append(ready, w)
		}
	}
	for _, b3 := range b3s {
		if !delivered[b3] {
			again = append(again, want[b3]...)
		}
	}
	b := f.root.NewBatch(len(ready))
	for _, w := range ready {
		so := place.SettleOptions{MTime: w.it.MTime, ReadBack: true, XXH128: w.xxh}
		b.Add(ctx, w.pf, so, w.it.Replace, func(fi fs.FileInfo, err error) {
			var rb *place.ReadBackError
			if errors.As(err, &rb) && ctx.Err() == nil {
				again = append(again, w.it) // Flush calls done from this goroutine
				return
			}
			f.done(Placed{Item: w.it, Info: fi, XXH128: w.xxh, Err: err})
		})
	}
	b.Flush(ctx)
	for _, it := range again {
		if ctx.Err() != nil {
			f.done(Placed{Item: it, Err: ctx.Err()})
			continue
		}
		f.done(f.single(ctx, it))
	}
}

// written is a small file in its temporary file, its BLAKE3 checked.
type written struct {
	it  Item
	pf  *place.File
	xxh string
	err error
}

// write puts a small blob's bytes into the item's temporary file and
// checks them against its BLAKE3.
func (f *Fetcher) write(it Item, data []byte) (*written, error) {
	pf, err := f.root.Begin(it.Rel, place.BeginOptions{Perm: it.Perm, Hash: true})
	if err != nil {
		return nil, err
	}
	if _, err := pf.Write(data); err != nil {
		pf.Abort()
		return nil, fmt.Errorf("write %s: %w", pf.Path(), err)
	}
	f.o.Progress.Add(int64(len(data)))
	if err := f.check(it, pf); err != nil {
		pf.Abort()
		return nil, err
	}
	return &written{it: it, pf: pf, xxh: pf.Sum().XXH128Hex()}, nil
}

// check compares what the temporary file holds with the item.
func (f *Fetcher) check(it Item, pf *place.File) error {
	if got, n := pf.Sum().BLAKE3Hex(), pf.Offset(); got != it.B3 || n != it.Size {
		msg := fmt.Sprintf("downloaded data does not match %s (BLAKE3 %s, %d bytes; expected %s, %d bytes)", f.o.Source, got, n, it.B3, it.Size)
		if f.o.Advice != "" {
			msg += ": " + f.o.Advice
		}
		return &BadDataError{msg}
	}
	return nil
}

// single fetches one file through its own resumable download, trying
// twice: what an earlier run left, or a download or read-back that turned
// out wrong, is thrown away and fetched again in full once.
func (f *Fetcher) single(ctx context.Context, it Item) Placed {
	var lastErr error
	for range 2 {
		// The temporary name is the same on every run: what a killed run
		// left is hashed and the rest fetched by range.
		pf, err := f.root.Begin(it.Rel, place.BeginOptions{Perm: it.Perm, Resume: true, Hash: true})
		if err != nil {
			return Placed{Item: it, Err: err}
		}
		err = f.download(ctx, it, pf)
		if err == nil {
			err = pf.Settle(ctx, place.SettleOptions{MTime: it.MTime, ReadBack: true, XXH128: pf.Sum().XXH128Hex()})
		}
		if err != nil && ctx.Err() != nil {
			pf.Keep() // resumed by the next run
			return Placed{Item: it, Err: ctx.Err()}
		}
		if err != nil {
			pf.Abort()
			lastErr = err
			var bad *BadDataError
			var rb *place.ReadBackError
			if errors.As(err, &bad) || errors.As(err, &rb) {
				continue
			}
			break
		}
		xxh := pf.Sum().XXH128Hex()
		fi, err := pf.Commit(it.Replace)
		return Placed{Item: it, Info: fi, XXH128: xxh, Err: err}
	}
	return Placed{Item: it, Err: lastErr}
}

// download fetches the rest of the item's blob into pf, by range from
// where an interrupted run stopped, and checks its BLAKE3.
func (f *Fetcher) download(ctx context.Context, it Item, pf *place.File) error {
	if pf.Offset() > it.Size {
		if err := pf.Restart(); err != nil {
			return err
		}
	}
	have := pf.Offset()
	f.o.Progress.Add(have)
	if have < it.Size {
		rc, err := f.h.OpenBlob(ctx, it.B3, have)
		if err != nil {
			return fmt.Errorf("download blob %s: %w", it.B3, err)
		}
		defer rc.Close()
		if err := copyBlob(pf, run.ProgressWriter(f.o.Progress), rc, it.Size-have+1); err != nil {
			return fmt.Errorf("download blob %s: %w", it.B3, err)
		}
	}
	return f.check(it, pf)
}

// copyBlob copies up to limit bytes of rc to pf and progress: from a
// reader's own buffers where it has them, else 1 MiB at a time.
func copyBlob(pf, progress io.Writer, rc io.Reader, limit int64) error {
	dst := io.MultiWriter(pf, progress)
	if br, ok := rc.(backend.BufferedReader); ok {
		_, err := br.WriteTo(&cappedWriter{w: dst, left: limit})
		if errors.Is(err, errPastLimit) {
			err = nil // the caller's check refuses a blob that long
		}
		return err
	}
	buf := copyBufs.Get().(*[copyBuf]byte)
	defer copyBufs.Put(buf)
	_, err := io.CopyBuffer(dst, io.LimitReader(rc, limit), buf[:])
	return err
}

// cappedWriter passes on the first left bytes written to it, then fails
// with errPastLimit.
type cappedWriter struct {
	w    io.Writer
	left int64
}

var errPastLimit = errors.New("more bytes than expected")

func (c *cappedWriter) Write(p []byte) (int, error) {
	over := int64(len(p)) > c.left
	if over {
		p = p[:c.left]
	}
	n, err := c.w.Write(p)
	c.left -= int64(n)
	if err == nil && over {
		err = errPastLimit
	}
	return n, err
}

// copyBuf is what a download reads and writes at a time: io.Copy's 32 KiB
// cost a system call each way per 32 KiB.
const copyBuf = 1 << 20

var copyBufs = sync.Pool{New: func() any { return new([copyBuf]byte) }}

// readBlob reads a small blob expected to hold size bytes, and one more
// if it holds more (the caller's check then refuses it), into a buffer of
// that size: io.ReadAll grows one as the bytes come, copying them again.
func readBlob(r io.Reader, size int64) ([]byte, error) {
	data := make([]byte, size+1)
	n, err := io.ReadFull(r, data)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return data[:n], err
}
