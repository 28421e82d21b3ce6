package contenthub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

// BlobWriter uploads the blobs of one command (a backup, a push): small
// ones are gathered into packs, big ones go up as objects of their own.
// Packed blobs are in the hub only once Flush has returned: the packs and
// the index object naming them are stored. A snapshot or an event naming a
// blob is written after Flush, so a command killed mid-way leaves at worst
// a pack no index names, which prune later indexes and removes as unused.
// Safe for concurrent use.
type BlobWriter struct {
	h   *Hub
	ctx context.Context // the command's: packs upload in the background under it

	mu      sync.Mutex
	cur     packBuilder
	queued  map[[32]byte]bool // in cur or on their way, not yet indexed
	stored  []storedPack      // uploaded, not yet indexed
	err     error             // the first failed upload
	uploads sync.WaitGroup
	slots   chan struct{} // packs uploading at once (bounds memory)
	// spare holds the buffers of uploaded packs for the next ones: a
	// fresh 16 MiB buffer, grown by appending, costs more in page faults
	// and copies than packing the blobs itself.
	spare chan []byte
	// Hook, if set, is called with "pack-stored" once a pack is stored and
	// before its index is: tests kill a command there.
	Hook func(step string)
	// indexEvery is how many stored packs may wait for their index object
	// before one is written without a Flush (0: only Flush indexes).
	indexEvery int
}

type storedPack struct {
	id      packID
	entries []packEntry
}

// NewBlobWriter starts a command's uploads; ctx is the command's, which
// packs upload under in the background (not that of the Put that filled
// them, which may end first).
func (h *Hub) NewBlobWriter(ctx context.Context) *BlobWriter {
	// What a kill loses is at most this many packs of work.
	return &BlobWriter{h: h, ctx: ctx, queued: map[[32]byte]bool{}, slots: make(chan struct{}, 2), spare: make(chan []byte, 3), indexEvery: 8}
}

// Put stores the file at path as blob b3 (its BLAKE3, already computed)
// unless the hub has it, and reports whether it stored it. A small file is
// read and checked against b3 before it is packed; a big one is uploaded
// as before, resumably.
func (w *BlobWriter) Put(ctx context.Context, b3, path string) (stored bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if fi.Size() >= PackThreshold {
		return w.h.PutBlob(ctx, b3, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if sum := hashing.SumBLAKE3(data); fmt.Sprintf("%x", sum) != b3 {
		return false, fmt.Errorf("%s changed since it was read (its content no longer hashes to %s)", path, b3)
	}
	return w.PutBytes(ctx, b3, data)
}

// PutBytes packs data as blob b3 unless the hub or this writer has it.
// data must hash to b3 (callers hashed it) and be smaller than
// PackThreshold; it is copied.
func (w *BlobWriter) PutBytes(ctx context.Context, b3 string, data []byte) (stored bool, err error) {
	if len(data) >= PackThreshold {
		return false, fmt.Errorf("blob %s: %d bytes is too big for a pack", b3, len(data))
	}
	k, err := hashing.ParseBLAKE3(b3)
	if err != nil {
		return false, err
	}
	if at, err := w.h.lookupPacked(ctx, b3); err != nil || len(at) > 0 {
		return false, err
	}
	return w.pack(ctx, k, data)
}

// pack adds a blob to the pack being filled unless this writer has it
// already, uploading the pack once it is full.
func (w *BlobWriter) pack(ctx context.Context, k [32]byte, data []byte) (stored bool, err error) {
	w.mu.Lock()
	if w.err != nil || w.queued[k] {
		defer w.mu.Unlock()
		return false, w.err
	}
	w.queued[k] = true
	if w.cur.buf == nil {
		select {
		case w.cur.buf = <-w.spare:
		default:
			w.cur.buf = make([]byte, 0, packTarget+PackThreshold)
		}
	}
	w.cur.add(k, data)
	var sealed packBuilder
	if w.cur.size() >= packTarget {
		sealed, w.cur = w.cur, packBuilder{}
	}
	w.mu.Unlock()
	if len(sealed.entries) > 0 {
		if err := w.upload(ctx, &sealed); err != nil {
			return false, err
		}
	}
	return true, nil
}

// upload stores a sealed pack in the background, waiting while two are on
// their way already.
func (w *BlobWriter) upload(ctx context.Context, p *packBuilder) error {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		// Other Puts counted on this pack: Flush must fail too, never
		// commit what names its blobs.
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.err == nil {
			w.err = fmt.Errorf("a pack of %d blobs was not uploaded: %w", len(p.entries), ctx.Err())
		}
		return w.err
	}
	id, data, entries := p.seal()
	w.uploads.Add(1)
	go func() {
		defer w.uploads.Done()
		defer func() { <-w.slots }()
		err := w.h.putPack(w.ctx, id, data)
		if err == nil {
			// Only a stored pack's: after a failed request the HTTP
			// transport may still be reading its body.
			select {
			case w.spare <- data[:0]:
			default:
			}
		}
		if err == nil && w.Hook != nil {
			w.Hook("pack-stored")
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return
		}
		w.stored = append(w.stored, storedPack{id, entries})
	}()
	if w.indexEvery > 0 && w.pendingIndex() >= w.indexEvery {
		return w.indexStored(ctx)
	}
	return nil
}

func (w *BlobWriter) pendingIndex() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.stored)
}

// putPack stores a pack; one with the same content already there is the
// same pack.
func (h *Hub) putPack(ctx context.Context, id packID, data []byte) error {
	err := h.backend.Put(ctx, id.key(), backend.BytesSource(data), backend.PutOptions{IfNotExists: true})
	if err != nil && !errors.Is(err, backend.ErrExists) {
		return fmt.Errorf("uploading pack %s: %w", id.key(), err)
	}
	return nil
}

// indexStored writes the index object for the packs stored so far.
func (w *BlobWriter) indexStored(ctx context.Context) error {
	w.mu.Lock()
	done := w.stored
	w.stored = nil
	w.mu.Unlock()
	if len(done) == 0 {
		return nil
	}
	if err := w.h.writeIndex(ctx, done); err != nil {
		w.mu.Lock()
		w.stored = append(w.stored, done...)
		w.mu.Unlock()
		return err
	}
	w.mu.Lock()
	for _, p := range done {
		for _, e := range p.entries {
			delete(w.queued, e.b3)
		}
	}
	w.mu.Unlock()
	return nil
}

// Flush stores the pack being filled and the index of every pack stored:
// when it returns, every blob put so far is in the hub.
func (w *BlobWriter) Flush(ctx context.Context) error {
	if err := w.store(ctx); err != nil {
		return err
	}
	return w.indexStored(ctx)
}

// store uploads the pack being filled and waits for every upload.
func (w *BlobWriter) store(ctx context.Context) error {
	w.mu.Lock()
	last := w.cur
	w.cur = packBuilder{}
	w.mu.Unlock()
	if len(last.entries) > 0 {
		if err := w.upload(ctx, &last); err != nil {
			return err
		}
	}
	w.uploads.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// verifyingReader hands out a blob's bytes and fails at its end if they do
// not hash to the blob's name: a damaged object is an error, never wrong
// bytes taken for right.
type verifyingReader struct {
	r    io.Reader
	h    *hashing.MultiHasher
	want string
	what string // names the blob and where it is, for the error
}

func newVerifyingReader(r io.Reader, b3, what string) *verifyingReader {
	return &verifyingReader{r: r, h: hashing.NewMultiHasher(hashing.BLAKE3), want: b3, what: what}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	err = asDamaged(err)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := v.h.Digest(hashing.BLAKE3); got != v.want {
			return n, fmt.Errorf("%s: content does not match its hash (BLAKE3 %s): %w; run `editkit hub check --read-data`", v.what, got, ErrDamaged)
		}
	}
	return n, err
}
