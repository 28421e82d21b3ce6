package contenthub

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

const (
	// readGap: packed blobs closer than this are fetched in one request,
	// the bytes between them read and dropped; a request costs more than
	// that many bytes of transfer, even locally.
	readGap = 1 << 20
	// readJobs: requests in flight at once.
	readJobs = 4
)

// ReadBlobs reads the blobs b3s and calls fn once for each distinct one,
// with a reader of its content valid only during the call. Packed blobs
// are read pack by pack, neighbours in one range request (a pack most of
// which is wanted is read whole), so a restore of thousands of bins is a
// few requests. The order is the hub's (pack by pack), and fn is called
// from several goroutines at once: it must be safe for that. Every blob is
// checked against its BLAKE3 before fn sees it (a packed one) or as fn
// reads it (an object of its own: the read fails at its end), so a damaged
// pack or object is an error naming it and the blob, never wrong bytes. A
// blob the hub lacks is an error naming it; an error from fn stops the
// reading and is returned.
func (h *Hub) ReadBlobs(ctx context.Context, b3s []string, fn func(b3 string, r io.Reader) error) error {
	return h.readBlobs(ctx, b3s, fn, nil)
}

// ErrDamaged: a blob's bytes in the hub do not match its hash.
var ErrDamaged = errors.New("damaged in the hub")

// readBlobs is ReadBlobs; with damaged set, a damaged packed blob is
// reported to it and the others still handed out (hub check).
func (h *Hub) readBlobs(ctx context.Context, b3s []string, fn func(b3 string, r io.Reader) error, damaged func(b3 string, err error)) error {
	want := map[string]bool{}
	for _, b3 := range b3s {
		if !validB3(b3) {
			return fmt.Errorf("blob %q: not a BLAKE3", b3)
		}
		want[b3] = true
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// A blob not found (its pack repacked by a prune since the index was
	// read, a loose blob packed) is looked up again in a fresh index, in a
	// place other than the packs found gone: an index may still name a
	// pack that is gone beside the one that holds the blob now.
	gone := map[packID]bool{}
	for attempt := 0; len(want) > 0; attempt++ {
		reqs, loose, err := h.planReads(ctx, want, gone)
		if err != nil {
			return err
		}
		var (
			mu      sync.Mutex
			retry   []string // objects gone since the index was read
			newGone bool     // a pack not known to be gone before
			wg      sync.WaitGroup
			slots   = make(chan struct{}, readJobs)
			errOnce sync.Once
			first   error
		)
		fail := func(err error) {
			errOnce.Do(func() { first = err; cancel(err) })
		}
		done := func(b3 string) { mu.Lock(); delete(want, b3); mu.Unlock() }
		var onDamaged func(string, error)
		if damaged != nil {
			onDamaged = func(b3 string, err error) { damaged(b3, err); done(b3) }
		}
		// spawn runs one request; one that finds its object gone is
		// retried once after the index is read again.
		spawn := func(key string, pack *packID, read func() error) {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				err := read()
				if errors.Is(err, backend.ErrNotFound) {
					mu.Lock()
					retry = append(retry, key)
					if pack != nil && !gone[*pack] {
						gone[*pack], newGone = true, true
					}
					mu.Unlock()
				} else if err != nil {
					fail(err)
				}
			}()
		}
		for _, rq := range reqs {
			spawn(rq.pack.key(), &rq.pack, func() error {
				return h.readRange(ctx, rq, func(b3 string, r io.Reader) error {
					if err := fn(b3, r); err != nil {
						return err
					}
					done(b3)
					return nil
				}, onDamaged)
			})
		}
		for _, b3 := range loose {
			spawn(BlobKey(b3), nil, func() error {
				if err := h.readLoose(ctx, b3, fn); err != nil {
					if onDamaged != nil && errors.Is(err, ErrDamaged) {
						onDamaged(b3, err)
						return nil
					}
					return err
				}
				done(b3)
				return nil
			})
		}
		wg.Wait()
		if first != nil {
			return first
		}
		// Each further round needs a pack newly found gone, so it ends.
		if len(retry) == 0 || (attempt > 0 && !newGone) {
			break
		}
		if err := h.ReloadIndex(ctx); err != nil {
			return err
		}
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for b3 := range want {
			missing = append(missing, BlobKey(b3))
		}
		slices.Sort(missing)
		return fmt.Errorf("the hub lacks %d blobs: %v; run `editkit hub check`", len(missing), missing)
	}
	return nil
}

// rangeRead is one request: a range of a pack and the blobs in it.
type rangeRead struct {
	pack       packID
	start, end int64
	blobs      []indexEntry // by offset
}

// planReads groups the wanted packed blobs into range requests, each from
// the first place the index puts it that is not a pack in gone, and lists
// the others, to be read as objects of their own.
func (h *Hub) planReads(ctx context.Context, want map[string]bool, gone map[packID]bool) ([]rangeRead, []string, error) {
	x, err := h.index(ctx)
	if err != nil {
		return nil, nil, err
	}
	h.ix.mu.Lock()
	byPack := map[uint32][]indexEntry{}
	var loose []string
	for b3 := range want {
		k, _ := hashing.ParseBLAKE3(b3)
		at := x.locations(k)
		if i := slices.IndexFunc(at, func(e indexEntry) bool { return !gone[x.packs[e.pack]] }); i >= 0 {
			e := at[i]
			byPack[e.pack] = append(byPack[e.pack], e)
		} else {
			loose = append(loose, b3)
		}
	}
	packs := x.packs
	h.ix.mu.Unlock()
	var reqs []rangeRead
	for pn, es := range byPack {
		slices.SortFunc(es, func(a, b indexEntry) int { return int(a.off) - int(b.off) })
		var cur *rangeRead
		for _, e := range es {
			start, end := int64(e.off), int64(e.off)+int64(e.length)
			if cur == nil || start-cur.end > readGap {
				reqs = append(reqs, rangeRead{pack: packs[pn], start: start, end: end})
				cur = &reqs[len(reqs)-1]
			}
			cur.end = max(cur.end, end)
			cur.blobs = append(cur.blobs, e)
		}
	}
	slices.Sort(loose)
	return reqs, loose, nil
}

// readRange fetches one range of a pack and hands out its blobs, each
// checked against its BLAKE3 first.
func (h *Hub) readRange(ctx context.Context, rq rangeRead, fn func(b3 string, r io.Reader) error, damaged func(b3 string, err error)) error {
	rc, err := h.backend.Get(ctx, rq.pack.key(), rq.start, rq.end-rq.start)
	var data []byte
	if err == nil {
		data, err = readAllSized(rc, rq.end-rq.start)
		rc.Close()
	}
	if err = asDamaged(err); errors.Is(err, ErrDamaged) && damaged != nil {
		for _, e := range rq.blobs {
			damaged(hex.EncodeToString(e.b3[:]), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pack %s: %w", rq.pack.key(), err)
	}
	for _, e := range rq.blobs {
		b3 := hex.EncodeToString(e.b3[:])
		lo, hi := int64(e.off)-rq.start, int64(e.off)+int64(e.length)-rq.start
		if hi > int64(len(data)) {
			return fmt.Errorf("pack %s ends before blob %s (offset %d, %d bytes): %w; run `editkit hub check --read-data --repair`", rq.pack.key(), b3, e.off, e.length, ErrDamaged)
		}
		blob := data[lo:hi]
		if sum := hashing.SumBLAKE3(blob); sum != e.b3 {
			err := fmt.Errorf("pack %s: blob %s does not match its hash (BLAKE3 %x): %w; run `editkit hub check --read-data --repair`", rq.pack.key(), b3, sum, ErrDamaged)
			if damaged == nil {
				return err
			}
			damaged(b3, err)
			continue
		}
		if err := fn(b3, bytes.NewReader(blob)); err != nil {
			return err
		}
	}
	return nil
}

// readAllSized is io.ReadAll of a reader expected to give size bytes:
// into a buffer of that size (growing one as the bytes come costs page
// faults and copies), unless size is more than any pack holds (a damaged
// index), which must not allocate what is not there.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	if size > 4*packTarget {
		return io.ReadAll(r)
	}
	data := make([]byte, size)
	n, err := io.ReadFull(r, data)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil // cut short: the caller's checks name what is missing
	}
	return data[:n], err
}

// readLoose hands out a blob stored as an object of its own, checked as fn
// reads it.
func (h *Hub) readLoose(ctx context.Context, b3 string, fn func(b3 string, r io.Reader) error) error {
	rc, err := h.backend.Get(ctx, BlobKey(b3), 0, -1)
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", BlobKey(b3), asDamaged(err))
	}
	defer rc.Close()
	return fn(b3, newVerifyingReader(rc, b3, "blob "+BlobKey(b3)))
}

// VerifyBlobs reads every blob of b3s (packed ones pack by pack, a few
// requests each) and hashes it, telling report about each one: nil, an
// error wrapping ErrDamaged for bytes that do not match the hash, another
// error for one that could not be read. read hears of each blob's bytes
// (progress). read and report are called one at a time. It is what `hub check --read-data` does.
func (h *Hub) VerifyBlobs(ctx context.Context, b3s []string, read func(n int64), report func(b3 string, problem error)) error {
	var mu sync.Mutex
	say := func(b3 string, err error) {
		mu.Lock()
		defer mu.Unlock()
		report(b3, err)
	}
	return h.readBlobs(ctx, b3s, func(b3 string, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		mu.Lock()
		read(n)
		report(b3, err)
		mu.Unlock()
		return nil
	}, say)
}

// IndexProblems lists what is wrong with the pack index: index objects
// that cannot be read, entries naming a pack that is gone or a range
// beyond its pack's end, and packs stored before now minus an hour that
// no index names (a lost index object, or a writer killed between a pack
// and its index). `hub check --repair` rebuilds the index from the packs
// (Compact with FromPacks).
func (h *Hub) IndexProblems(ctx context.Context, now time.Time) ([]string, error) {
	if err := h.ReloadIndex(ctx); err != nil {
		return nil, err
	}
	packs, err := h.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	x, err := h.index(ctx)
	if err != nil {
		return nil, err
	}
	problems := slices.Clone(x.damaged)
	gone := map[uint32]bool{}
	for _, e := range x.sorted {
		id := x.packs[e.pack]
		oi, ok := packs[id]
		switch {
		case !ok && !gone[e.pack]:
			gone[e.pack] = true
			problems = append(problems, fmt.Sprintf("the index names pack %s, which is not in the hub", id.key()))
		case ok && int64(e.off)+int64(e.length) > oi.Size-packTrailerSize:
			problems = append(problems, fmt.Sprintf("the index puts blob %x at bytes %d–%d of pack %s, which has %d", e.b3, e.off, int64(e.off)+int64(e.length), id.key(), oi.Size))
		}
	}
	var orphans []string
	for id, oi := range packs {
		if _, named := x.packNum[id]; !named && now.Sub(oi.Modified) > time.Hour {
			orphans = append(orphans, fmt.Sprintf("pack %s is named by no index (its index object lost, or its writer killed before writing it)", id.key()))
		}
	}
	slices.Sort(orphans)
	return append(problems, orphans...), nil
}
