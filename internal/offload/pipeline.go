package offload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

const (
	chunkSize       = 1 << 20 // bytes per read
	chunksInFlight  = 4       // per file: reading runs this far ahead of hashing and writing
	writebackWindow = 8 << 20 // start writing a large file out every this many bytes
	// smallFilesPerHandOver is how many files of a folder of small files
	// the walk hands a worker at once (see copyAll).
	smallFilesPerHandOver = 16
)

// job is one source file and what each destination needs of it.
type job struct {
	entry   walk.Entry
	copyTo  []*dest
	checkOn []checkTarget // complete, but never read back
}

type checkTarget struct {
	d   *dest
	rec manifest.Record
}

// copyAll is the second walk of the source: it creates folders and hands
// files to the workers, which copy several at once. Preflight stat'ed every
// file; this walk does not (walk.Visitor.Unread): a worker fstats the file
// it opens, and decide stats only a file a manifest records.
func (c *copier) copyAll(ctx context.Context) error {
	srcRoot, _ := filepath.Abs(c.opts.Source)
	cursors := make([]*manifest.Cursor, len(c.dests))
	for i, d := range c.dests {
		cursors[i] = d.drive.Cursor()
		defer cursors[i].Close()
	}
	workers := run.NewPoolOfWorkers(ctx, c.opts.Jobs, func() func(context.Context, []job) {
		w := &worker{c: c, srcRoot: srcRoot}
		return func(ctx context.Context, js []job) {
			for _, j := range js {
				w.do(ctx, j)
			}
		}
	})
	// Files of folders that held only small files when preflight listed
	// them are handed to a worker several at a time: handing over one
	// file of a few KB (a wake-up of the worker's thread, often a context
	// switch) costs as much as copying it. Any other file goes alone, so
	// that big files spread over the workers.
	var pending []job
	handOver := func() error {
		if len(pending) == 0 {
			return nil
		}
		js := pending
		pending = nil
		return workers.Submit(js)
	}
	v := walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			if e.Path == "" {
				return nil
			}
			return c.makeDir(cursors, e)
		},
		File: func(e walk.Entry) error {
			j, err := c.plan(cursors, e)
			if err != nil || len(j.copyTo) == 0 && len(j.checkOn) == 0 {
				return err
			}
			pending = append(pending, j)
			if c.bigFolders[treepath.Parent(e.Path)] || len(pending) >= smallFilesPerHandOver {
				return handOver()
			}
			return nil
		},
		Skipped: func(s walk.Skipped) {
			if s.Err != nil {
				c.sourceError(s.Path, s.Err)
			}
		},
		Unread: true,
	}
	err := walk.Walk(workers.Context(), srcRoot, c.opts.Rules, v)
	if err == nil {
		err = handOver()
	}
	if waitErr := workers.Wait(); err == nil {
		err = waitErr
	}
	for _, d := range c.dests {
		d.batch.Flush(ctx) // the last small files
	}
	return err
}

// makeDir creates a source folder on every working destination and
// records it in the destination's manifest (cursors[i] is destination i's
// manifest, read in tree order) unless it already is.
func (c *copier) makeDir(cursors []*manifest.Cursor, e walk.Entry) error {
	for i, d := range c.dests {
		if d.broken() != nil {
			continue
		}
		rec, known, err := cursors[i].Seek(e.Path)
		if err != nil {
			return err
		}
		if err := d.mkdirs(e.Path); err != nil {
			d.failFile(e.Path+"/", err)
			continue
		}
		if !known || !rec.Dir {
			if err := d.record(manifest.Record{Path: e.Path, Dir: true, Origin: "copy"}, false); err != nil {
				d.failFile(e.Path+"/", err)
			}
		}
	}
	return nil
}

// plan decides, for each working destination, whether a source file is
// there already, needs reading back, or needs copying.
func (c *copier) plan(cursors []*manifest.Cursor, e walk.Entry) (job, error) {
	j := job{entry: e}
	for i, d := range c.dests {
		if d.broken() != nil {
			continue
		}
		act, rec, err := decide(d, cursors[i], &j.entry, c.srcRoot, c.opts.Verify)
		if err != nil {
			return j, err
		}
		switch act {
		case actSkip:
			d.alreadyThere()
		case actVerify:
			j.checkOn = append(j.checkOn, checkTarget{d, rec})
		case actCopy:
			j.copyTo = append(j.copyTo, d)
		}
	}
	return j, nil
}

// worker copies one file at a time with its own buffers, so memory is
// bounded by the number of workers whatever the number of files.
type worker struct {
	c       *copier
	srcRoot string
	free    chan []byte
	small   []byte               // a small file's whole content
	hasher  *hashing.MultiHasher // see copier.newFileHasher
}

// plainHasher is the worker's hasher of the formats every copy records.
func (w *worker) plainHasher() *hashing.MultiHasher {
	if w.hasher == nil {
		w.hasher = hashing.NewMultiHasher(copyHashes()...)
	}
	return w.hasher
}

func (w *worker) buffers() chan []byte {
	if w.free == nil {
		w.free = make(chan []byte, chunksInFlight)
		for range chunksInFlight {
			w.free <- make([]byte, chunkSize)
		}
	}
	return w.free
}

func (w *worker) do(ctx context.Context, j job) {
	if ctx.Err() != nil {
		return
	}
	defer w.c.opts.Progress.FileDone()
	for _, t := range j.checkOn {
		if err := w.readBack(ctx, t.d, j.entry, t.rec); err != nil {
			if ctx.Err() != nil {
				return
			}
			// The drive's copy does not read back as recorded: copy it again.
			j.copyTo = append(j.copyTo, t.d)
		}
	}
	if len(j.copyTo) > 0 {
		w.copyFile(ctx, j.entry, j.copyTo)
	}
}

// readBack checks a file already on a destination against its manifest
// record, reading it from the medium, and records that it was verified.
func (w *worker) readBack(ctx context.Context, d *dest, e walk.Entry, rec manifest.Record) error {
	f, err := os.Open(d.path(e.Path))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fsx.ReadFromMedium(f); err != nil {
		return err
	}
	sum, _, err := w.hashXXH(ctx, f, 1)
	if err != nil {
		return err
	}
	if sum != rec.XXH128 {
		return fmt.Errorf("reads back as xxh128 %s, manifest says %s", sum, rec.XXH128)
	}
	rec.Verified = w.c.opts.Now().Unix()
	if rec.MXF == nil {
		rec.MXF = mxf.Probe(e.Path, f, rec.Size) // indexing an older record while the file is read anyway
	}
	return d.record(rec, false)
}

// hashXXH hashes f's remaining bytes with xxh128 from the medium, counting
// them as progress divided by share (several read-backs of one file run at
// once).
func (w *worker) hashXXH(ctx context.Context, f *os.File, share int) (string, int64, error) {
	return place.ReadBack(ctx, f, w.progress(share))
}

// output is one destination's temporary file for the file being copied,
// placed through the destination's place.Root.
type output struct {
	d   *dest
	pf  *place.File
	ch  chan *chunk
	fi  os.FileInfo // the placed file, after commit
	err error
	n   int64
	// grouped: placed by its destination's batch, whose records are
	// written out together after the group (dest.flushGroup).
	grouped bool
}

// chunk is a buffer shared by the hasher and every writer; the last one
// done with it returns it to the worker's free list.
type chunk struct {
	buf  []byte
	refs atomic.Int32
	free chan []byte
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.free <- c.buf[:cap(c.buf)]
	}
}

// copyFile reads the source once, fanning each chunk out to the hasher and
// every destination's writer, which run concurrently; then it syncs, reads
// back and renames on every destination.
func (w *worker) copyFile(ctx context.Context, e walk.Entry, targets []*dest) {
	c := w.c
	src, before, err := openSource(filepath.Join(w.srcRoot, filepath.FromSlash(e.Path)))
	if err != nil {
		c.sourceError(e.Path, err)
		return
	}
	defer src.Close()
	outs := w.createAll(targets, e, before.Mode().Perm(), before.Size() <= place.SmallFile)
	if len(outs) == 0 {
		return
	}
	abort := func() {
		for _, o := range outs {
			o.abort()
		}
	}
	h := c.newFileHasher(e.Path, w.plainHasher())
	var n int64
	if before.Size() <= place.SmallFile {
		n, err = w.copySmall(src, before.Size(), h.MultiHasher, outs)
	} else {
		n, err = w.fanOut(ctx, src.file(), h.MultiHasher, outs)
	}
	if err != nil {
		abort()
		if ctx.Err() == nil {
			c.sourceError(e.Path, fmt.Errorf("read: %w", err))
		}
		return
	}
	if err := unchanged(src, before, n); err != nil {
		abort()
		c.sourceError(e.Path, err)
		return
	}
	sum := h.Sum()
	mhlHashes, damage := h.checkHistory(w.srcRoot, e.Path, sum.XXH128Hex(), c.opts.Now)
	now := c.opts.Now().Unix()
	rec := manifest.Record{
		Path:     e.Path,
		Size:     n,
		SrcMTime: before.ModTime().UnixNano(),
		BLAKE3:   sum.BLAKE3Hex(),
		XXH128:   sum.XXH128Hex(),
		Origin:   "copy",
		Written:  now,
		MXF:      mxf.Probe(e.Path, src, n), // from the page cache: the file was just read
	}
	if c.opts.Verify != VerifyNone {
		rec.Verified = now
	}
	if n <= place.SmallFile {
		w.batchAll(ctx, e.Path, src, outs, before.ModTime(), sum, func(o *output) { o.record(rec, mhlHashes, damage) })
		return
	}
	srcErr := w.settleAll(ctx, src.file(), outs, before.ModTime(), sum)
	if ctx.Err() != nil {
		abort()
		return
	}
	if srcErr != nil {
		abort()
		c.sourceError(e.Path, srcErr)
		return
	}
	for _, o := range outs {
		if o.err == nil {
			o.err = o.commit()
		}
		o.record(rec, mhlHashes, damage)
	}
}

// batchAll hands a small file's copies to their destinations' batches,
// which sync, read back and rename many files at once (see place.Batch);
// record runs for each copy once its batch has placed it (or failed to).
// With --verify=full the source is re-read first, while it is open.
func (w *worker) batchAll(ctx context.Context, rel string, src *source, outs []*output, mtime time.Time, sum hashing.Sum, record func(*output)) {
	abort := func() {
		for _, o := range outs {
			o.abort()
		}
	}
	if w.c.opts.Verify == VerifyFull {
		if err := w.reReadSource(ctx, src.file(), sum); err != nil {
			abort()
			if ctx.Err() == nil {
				w.c.sourceError(rel, err)
			}
			return
		}
	}
	for _, o := range outs {
		if o.err != nil {
			record(o)
			continue
		}
		pf := o.pf
		o.pf, o.grouped = nil, true
		o.d.batch.Add(ctx, pf, w.settleOptions(mtime, sum, len(outs)), true, func(fi fs.FileInfo, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return // interrupted: the temporary file is gone, nothing is recorded
			}
			o.fi, o.err = fi, err
			record(o)
		})
	}
}

// openSource opens a source file and returns what it was before the copy.
func openSource(path string) (*source, os.FileInfo, error) {
	src, err := openSourceFile(path)
	if err != nil {
		return nil, nil, err
	}
	before, err := src.Stat()
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return src, before, nil
}

// unchanged checks that the source, n bytes read, is still what it was
// before the copy.
func unchanged(src *source, before os.FileInfo, n int64) error {
	after, err := src.Stat()
	if err == nil && (after.Size() != n || !after.ModTime().Equal(before.ModTime())) {
		err = fmt.Errorf("changed while it was being copied (size %d → %d); copy again when it is complete", before.Size(), after.Size())
	}
	return err
}

// createAll opens a temporary file for e on every target; a target that
// cannot take it has the file failed. small says e goes through a batch.
func (w *worker) createAll(targets []*dest, e walk.Entry, perm os.FileMode, small bool) []*output {
	var outs []*output
	for _, d := range targets {
		if o, err := w.create(d, e, perm, small); err != nil {
			d.failFile(e.Path, err)
		} else {
			outs = append(outs, o)
		}
	}
	return outs
}

// settleAll makes every copy durable and reads it back, all destinations at
// once (each output keeps its own error); with --verify=full it re-reads
// the source alongside and returns what that found.
func (w *worker) settleAll(ctx context.Context, src *os.File, outs []*output, mtime time.Time, sum hashing.Sum) error {
	var wg sync.WaitGroup
	var srcErr error
	if w.c.opts.Verify == VerifyFull {
		wg.Go(func() { srcErr = w.reReadSource(ctx, src, sum) })
	}
	for _, o := range outs {
		if o.err != nil {
			continue
		}
		wg.Go(func() { o.err = w.settle(ctx, o, mtime, sum, len(outs)) })
	}
	wg.Wait()
	return srcErr
}

// record records a copy given its final name (o.err says why not) in its
// destination's manifest (rec, completed with the mtime the drive stores)
// and ASC MHL history. A faithful copy of a file damaged at the source
// (damage) is kept, so nothing the card still holds is lost, but never
// recorded in the manifest as good: the drive's history records it as
// failed.
func (o *output) record(rec manifest.Record, mhlHashes []mhl.Hash, damage error) {
	if o.err != nil {
		o.abort()
		o.d.failFile(rec.Path, o.err)
		return
	}
	rec.ModTime = o.fi.ModTime().UnixNano() // as the drive stores it: exFAT rounds to 10 ms
	if damage != nil {
		o.d.addMHLFile(manifest.MHLFile{Path: rec.Path, Size: rec.Size, ModTime: o.fi.ModTime(), Hashes: mhlHashes, Unrecorded: true})
		o.d.failFile(rec.Path, damage)
		return
	}
	if err := o.d.appendRecord(rec, true, !o.grouped); err != nil {
		o.d.failFile(rec.Path, err)
		return
	}
	if mhlHashes != nil {
		o.d.addMHLFile(manifest.MHLFile{Path: rec.Path, Hashes: mhlHashes})
	}
}

// create opens a destination's temporary file for e, creating folders as
// needed. That the drive is still there is checked for each big file, and
// for small ones once per batch group (see dest.stillThereInGroup).
func (w *worker) create(d *dest, e walk.Entry, perm os.FileMode, small bool) (*output, error) {
	if err := d.broken(); err != nil {
		return nil, err
	}
	check := d.stillThere
	if small {
		check = d.stillThereInGroup
	}
	if err := check(); err != nil {
		return nil, err
	}
	if err := d.canHold(e.Path); err != nil {
		return nil, err
	}
	// copy restarts a file an interrupted run left half-written: the
	// source may have changed since. A small file is created without a
	// name where the drive allows it (place.BeginOptions.Unnamed): its
	// batch links it at its final name once synced and read back.
	pf, err := d.place.Begin(e.Path, place.BeginOptions{Perm: perm, Unnamed: small})
	if err != nil {
		return nil, err
	}
	return &output{d: d, pf: pf}, nil
}

// fanOut reads src in chunks and hands each to the hasher and to every
// output's writer goroutine. Reading the next chunk overlaps with hashing
// and writing the previous ones; a slow destination holds back the others
// by at most chunksInFlight chunks.
func (w *worker) fanOut(ctx context.Context, src *os.File, h *hashing.MultiHasher, outs []*output) (int64, error) {
	free := w.buffers()
	hashCh := make(chan *chunk, chunksInFlight)
	var wg sync.WaitGroup
	wg.Add(1 + len(outs))
	go func() {
		defer wg.Done()
		for c := range hashCh {
			h.Write(c.buf)
			c.release()
		}
	}()
	for _, o := range outs {
		o.ch = make(chan *chunk, chunksInFlight)
		go func() {
			defer wg.Done()
			o.write()
		}()
	}
	var total int64
	var readErr error
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			readErr = ctx.Err()
		}
		if readErr != nil {
			break
		}
		k, err := io.ReadFull(src, buf)
		if k > 0 {
			c := &chunk{buf: buf[:k], free: free}
			c.refs.Store(int32(1 + len(outs)))
			hashCh <- c
			for _, o := range outs {
				o.ch <- c
			}
			total += int64(k)
			w.c.opts.Progress.Add(int64(k))
		} else {
			free <- buf
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(hashCh)
	for _, o := range outs {
		close(o.ch)
	}
	wg.Wait()
	return total, readErr
}

// copySmall copies a small file in one read and one write per output, in
// the worker's goroutine: for a file of a few KB, handing chunks to other
// goroutines costs more than the copy. It reads the size the file had when
// opened, without a further read to see the end: a file that changed size
// since is reported by unchanged, which compares it after the copy.
func (w *worker) copySmall(src io.Reader, size int64, h *hashing.MultiHasher, outs []*output) (int64, error) {
	if w.small == nil {
		w.small = make([]byte, place.SmallFile)
	}
	k, err := io.ReadFull(src, w.small[:size])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil // shrunk: unchanged reports it
	}
	if err != nil {
		return int64(k), err
	}
	buf := w.small[:k]
	h.Write(buf)
	for _, o := range outs {
		if _, err := o.pf.Write(buf); err != nil {
			o.err = err
		}
		o.n = int64(k)
	}
	w.c.opts.Progress.Add(int64(k))
	return int64(k), nil
}

// write drains the output's chunks into its temporary file. After an error
// it keeps draining (so the reader never blocks) but writes nothing more.
func (o *output) write() {
	var started int64
	for c := range o.ch {
		if o.err == nil {
			k, err := o.pf.Write(c.buf)
			o.n += int64(k)
			if err != nil {
				o.err = err
			} else if o.n-started >= writebackWindow {
				fsx.StartWriteback(o.pf.OS(), started, o.n-started)
				started = o.n
			}
		}
		c.release()
	}
}

// settle makes a written temporary file durable with the source's mtime and,
// unless told not to, reads it back from the medium and compares it.
func (w *worker) settle(ctx context.Context, o *output, mtime time.Time, sum hashing.Sum, share int) error {
	return o.pf.Settle(ctx, w.settleOptions(mtime, sum, share))
}

// settleOptions say how a copy is made durable and checked against the
// source's hash.
func (w *worker) settleOptions(mtime time.Time, sum hashing.Sum, share int) place.SettleOptions {
	return place.SettleOptions{
		MTime:          mtime,
		ReadBack:       w.c.opts.Verify != VerifyNone,
		XXH128:         sum.XXH128Hex(),
		Against:        "the source",
		BeforeReadBack: w.c.opts.beforeReadBack,
		Progress:       w.progress(share),
	}
}

// progress counts read-back bytes divided by share: several read-backs of
// one file run at once, and the file's work was announced once per pass.
func (w *worker) progress(share int) func(int64) {
	return func(k int64) { w.c.opts.Progress.Add(k / int64(max(1, share))) }
}

// reReadSource reads the source again from the medium after the copy and
// checks it still hashes the same (--verify=full).
func (w *worker) reReadSource(ctx context.Context, src *os.File, sum hashing.Sum) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := fsx.ReadFromMedium(src); err != nil {
		return err
	}
	got, _, err := w.hashXXH(ctx, src, 1)
	if err != nil {
		return fmt.Errorf("re-read: %w", err)
	}
	if got != sum.XXH128Hex() {
		return fmt.Errorf("changed while it was being copied (re-read as xxh128 %s, copied %s); nothing was kept, copy it again",
			got, sum.XXH128Hex())
	}
	return nil
}

// commit gives the verified file its final name and makes the rename
// durable. A file of exactly that name is replaced (the manifest said it
// was stale); one the drive merely confuses with it is not.
func (o *output) commit() error {
	fi, err := o.pf.Commit(true)
	o.pf = nil
	if err != nil {
		return err
	}
	o.fi = fi
	return nil
}

// abort removes the temporary file; its final name was never touched.
func (o *output) abort() {
	if o.pf != nil {
		o.pf.Abort()
		o.pf = nil
	}
}
