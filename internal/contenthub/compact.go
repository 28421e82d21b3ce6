package contenthub

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

// CompactOptions adjust a Compact.
type CompactOptions struct {
	// PackLoose packs the small blobs stored as objects of their own
	// (written before packs existed) and deletes those objects.
	PackLoose bool
	// FromPacks rebuilds the index from the packs' own headers instead of
	// reading the index objects (hub check --repair).
	FromPacks bool
	// MinAge: a pack no index names (its writer was killed before writing
	// the index, or is still writing) is indexed only once it is this old,
	// so its blobs go the way of every unused blob.
	MinAge time.Duration
	Now    func() time.Time
	// Holder is who compacts, written in the compaction lease so that
	// another compaction can name it (empty Host, zero PID: this
	// computer, this process).
	Holder LeaseHolder
	// Hook, if set, hears "pack-stored" after each new pack and "indexed"
	// once the new index is stored, before anything is deleted: tests kill
	// the command there.
	Hook func(step string)
}

// CompactResult is what a Compact did.
type CompactResult struct {
	PacksDeleted  int   `json:"packs_deleted"`
	PacksRepacked int   `json:"packs_repacked"`
	PacksWritten  int   `json:"packs_written"`
	LoosePacked   int   `json:"loose_blobs_packed"`
	LooseDeleted  int   `json:"loose_blobs_deleted"`
	BytesRead     int64 `json:"bytes_repacked"`
	IndexWritten  bool  `json:"index_written"`
	DanglingIndex int   `json:"index_entries_dropped"` // naming a pack that is gone
}

const (
	// A pack is repacked once less than half of it is still used: at most
	// a pack's worth of bytes is rewritten to free as much.
	repackUsedRatio = 0.5
	// Packs under a quarter of the target size (a night's few changed
	// bins each) are merged once there are several.
	smallPack = packTarget / 4
	// The index objects are merged into one once there are this many,
	// even if no pack changed.
	indexObjectsMerged = 16
)

// Compact removes the blobs in drop from the hub and tidies its storage,
// without ever making a blob it keeps unavailable: packs with nothing kept
// are deleted; packs mostly dropped (and small packs, merged) have their
// kept blobs written into new packs first; a loose copy of a dropped blob
// is deleted; with PackLoose, loose small blobs are packed. Then one index
// object naming every kept and new pack is written, and only after it the
// index objects it replaces, the old packs and the loose objects are
// deleted. Readers holding the old index find a repacked blob by reading
// the index again; writers reusing a blob that is dropped are the business
// of the deletion protocol (gc.go): prune calls Compact only for blobs it
// has announced and checked.
//
// Two compactions never run at once on a hub (a pack one keeps could be
// one the other repacks): Compact first takes the hub's compaction lease
// (lease.go) and, while another holds it, does nothing and returns a
// *CompactingError (errors.Is ErrCompacting) naming the holder. A lease
// whose holder was killed is taken over once it expires (LeaseFor). One
// that ran past its lease stops before deleting anything.
func (h *Hub) Compact(ctx context.Context, drop []string, o CompactOptions) (*CompactResult, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	l, err := h.takeLease(ctx, o.Holder, o.Now)
	if err != nil {
		return nil, err
	}
	defer l.release(ctx)
	return h.compact(ctx, l, drop, o)
}

func (h *Hub) compact(ctx context.Context, l *lease, drop []string, o CompactOptions) (*CompactResult, error) {
	res := &CompactResult{}
	p, err := h.planCompaction(ctx, drop, o.FromPacks, res)
	if err != nil {
		return nil, err
	}
	adopted := h.orphanPacks(ctx, p, o)

	w := h.NewBlobWriter(ctx)
	w.indexEvery = 0
	w.Hook = o.Hook
	inNew := map[[32]byte]bool{}
	if err := h.repackInto(ctx, w, p.x, p.repack, p.kept, inNew, res); err != nil {
		return nil, err
	}
	looseGone, err := h.packLooseBlobs(ctx, w, p, o.PackLoose, inNew, res)
	if err != nil {
		return nil, err
	}
	if err := w.store(ctx); err != nil {
		return nil, err
	}
	w.mu.Lock()
	written := w.stored
	w.mu.Unlock()
	res.PacksWritten = len(written)

	// A dropped blob left in a kept pack goes from the index: its bytes
	// stay until the pack is repacked.
	changed := p.droppedInKept || len(p.remove) > 0 || len(written) > 0 || len(adopted) > 0 || res.DanglingIndex > 0 || len(p.x.files) > indexObjectsMerged || o.FromPacks
	if changed {
		// Writing the index deletes the index objects it replaces.
		if err := l.holds(ctx); err != nil {
			return res, err
		}
		if err := h.writeMergedIndex(ctx, p.x, p.keep, p.byPack, p.dropped, append(written, adopted...), res); err != nil {
			return nil, err
		}
	}
	if o.Hook != nil {
		o.Hook("indexed")
	}
	if err := l.holds(ctx); err != nil {
		return res, err
	}
	if err := h.removeReplaced(ctx, p.remove, written, looseGone, res); err != nil {
		return res, err
	}
	return res, h.ReloadIndex(ctx)
}

// compactPlan is what a compaction decided from the index, before it
// writes anything.
type compactPlan struct {
	x       *blobIndex
	packs   map[packID]backend.ObjectInfo // every pack stored
	dropped map[[32]byte]bool
	byPack  map[uint32][]indexEntry // the index, grouped by pack
	keep    []packID                // packs that stay as they are
	remove  []packID                // packs deleted once the new index is stored
	repack  []indexEntry            // kept blobs to write into new packs
	kept    map[[32]byte]bool       // blobs in packs that stay
	// droppedInKept: a pack that stays holds a dropped blob, so the index
	// changes even if no pack does.
	droppedInKept bool
}

// planCompaction reads the index (or the packs' headers) and sorts the
// packs into those that stay, those that go and those to repack.
func (h *Hub) planCompaction(ctx context.Context, drop []string, fromPacks bool, res *CompactResult) (*compactPlan, error) {
	p := &compactPlan{dropped: map[[32]byte]bool{}, byPack: map[uint32][]indexEntry{}, kept: map[[32]byte]bool{}}
	for _, b3 := range drop {
		k, err := hashing.ParseBLAKE3(b3)
		if err != nil {
			return nil, err
		}
		p.dropped[k] = true
	}
	var err error
	if p.packs, err = h.listPacks(ctx); err != nil {
		return nil, err
	}
	if p.x, err = h.compactIndex(ctx, p.packs, fromPacks); err != nil {
		return nil, err
	}
	for _, e := range p.x.sorted {
		if _, ok := p.packs[p.x.packs[e.pack]]; !ok {
			res.DanglingIndex++
			continue
		}
		p.byPack[e.pack] = append(p.byPack[e.pack], e)
	}
	var small []uint32
	for pn, es := range p.byPack {
		id := p.x.packs[pn]
		live, used := p.live(es)
		size := p.packs[id].Size - int64(len(es))*packEntrySize - packTrailerSize // its blobs' bytes
		switch {
		case len(live) == 0:
			p.remove = append(p.remove, id)
		case float64(used) < repackUsedRatio*float64(size):
			p.remove = append(p.remove, id)
			p.repack = append(p.repack, live...)
			res.PacksRepacked++
		case size < smallPack:
			small = append(small, pn)
		default:
			p.keepPack(pn)
		}
	}
	if len(small) > 1 {
		for _, pn := range small {
			p.remove = append(p.remove, p.x.packs[pn])
			res.PacksRepacked++
			live, _ := p.live(p.byPack[pn])
			p.repack = append(p.repack, live...)
		}
	} else {
		for _, pn := range small {
			p.keepPack(pn)
		}
	}
	return p, nil
}

// live is the entries of es not dropped, and their bytes.
func (p *compactPlan) live(es []indexEntry) (live []indexEntry, used int64) {
	for _, e := range es {
		if !p.dropped[e.b3] {
			live = append(live, e)
			used += int64(e.length)
		}
	}
	return live, used
}

// keepPack keeps pack pn as it is.
func (p *compactPlan) keepPack(pn uint32) {
	p.keep = append(p.keep, p.x.packs[pn])
	es := p.byPack[pn]
	live, _ := p.live(es)
	for _, e := range live {
		p.kept[e.b3] = true
	}
	p.droppedInKept = p.droppedInKept || len(live) < len(es)
}

// orphanPacks are the packs no index names that are old enough for their
// writer to be gone: the new index names them.
func (h *Hub) orphanPacks(ctx context.Context, p *compactPlan, o CompactOptions) []storedPack {
	var adopted []storedPack
	for id, oi := range p.packs {
		if _, named := p.x.packNum[id]; named || o.Now().Sub(oi.Modified) < o.MinAge {
			continue
		}
		entries, err := h.readPackHeader(ctx, id, oi.Size)
		if err != nil {
			continue // hub check reports it
		}
		adopted = append(adopted, storedPack{id, entries})
	}
	return adopted
}

// packLooseBlobs lists the blobs stored as objects of their own and
// returns those to delete once the new index is stored: dropped ones,
// ones a pack already holds, and (with packLoose) small ones it packs
// into w.
func (h *Hub) packLooseBlobs(ctx context.Context, w *BlobWriter, p *compactPlan, packLoose bool, inNew map[[32]byte]bool, res *CompactResult) ([]string, error) {
	var looseGone []string
	for oi, err := range h.backend.List(ctx, blobsPrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing the blobs: %w", err)
		}
		b3 := blobOf(oi.Key)
		if b3 == "" {
			continue
		}
		k, _ := hashing.ParseBLAKE3(b3)
		switch {
		case p.dropped[k]:
			looseGone = append(looseGone, b3)
		case !packLoose || oi.Size >= PackThreshold:
		case p.kept[k] || inNew[k]:
			looseGone = append(looseGone, b3)
		default:
			if err := h.packLoose(ctx, w, b3, k); err != nil {
				return nil, err
			}
			inNew[k] = true
			looseGone = append(looseGone, b3)
			res.LoosePacked++
		}
	}
	return looseGone, nil
}

// removeReplaced deletes, once the new index is stored, the packs and
// loose blobs it replaces (but a pack written again with the same blobs
// has the same name: it stays).
func (h *Hub) removeReplaced(ctx context.Context, remove []packID, written []storedPack, looseGone []string, res *CompactResult) error {
	for _, p := range written {
		remove = slices.DeleteFunc(remove, func(id packID) bool { return id == p.id })
	}
	for _, id := range remove {
		if err := h.backend.Delete(ctx, id.key()); err != nil {
			return fmt.Errorf("deleting pack %s: %w", id.key(), err)
		}
		res.PacksDeleted++
	}
	for _, b3 := range looseGone {
		if err := h.DeleteBlob(ctx, b3); err != nil {
			return fmt.Errorf("deleting blob %s: %w", BlobKey(b3), err)
		}
		res.LooseDeleted++
	}
	return nil
}

// compactIndex is the index Compact works from: the index objects, or
// with fromPacks the packs' own headers (the index objects are still
// listed in files, to be replaced).
func (h *Hub) compactIndex(ctx context.Context, packs map[packID]backend.ObjectInfo, fromPacks bool) (*blobIndex, error) {
	x, err := h.loadIndex(ctx)
	if err != nil || !fromPacks {
		return x, err
	}
	rebuilt := newBlobIndex()
	rebuilt.files = append(x.files, x.damaged...)
	for id, oi := range packs {
		entries, err := h.readPackHeader(ctx, id, oi.Size)
		if err != nil {
			rebuilt.damaged = append(rebuilt.damaged, id.key()+": "+err.Error())
			continue
		}
		n := rebuilt.packNumber(id)
		for _, e := range entries {
			rebuilt.sorted = append(rebuilt.sorted, indexEntry{b3: e.b3, pack: n, off: e.off, length: e.length})
		}
	}
	rebuilt.sortEntries()
	return rebuilt, nil
}

// repackInto reads the blobs of repack (checked against their BLAKE3) and
// writes those not kept elsewhere into w.
func (h *Hub) repackInto(ctx context.Context, w *BlobWriter, x *blobIndex, repack []indexEntry, kept, inNew map[[32]byte]bool, res *CompactResult) error {
	var want []string
	for _, e := range repack {
		if kept[e.b3] || inNew[e.b3] {
			continue
		}
		inNew[e.b3] = true
		want = append(want, hex.EncodeToString(e.b3[:]))
	}
	if len(want) == 0 {
		return nil
	}
	slices.Sort(want)
	// Read through a hub whose index is this one, so that a blob is read
	// from the pack being repacked.
	src := &Hub{backend: h.backend, location: h.location, ix: &indexState{x: x}}
	return src.ReadBlobs(ctx, want, func(b3 string, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		k, _ := hashing.ParseBLAKE3(b3)
		w.mu.Lock()
		res.BytesRead += int64(len(data))
		w.mu.Unlock()
		_, err = w.pack(ctx, k, data)
		return err
	})
}

// packLoose reads a loose small blob, checks it, and packs it.
func (h *Hub) packLoose(ctx context.Context, w *BlobWriter, b3 string, k [32]byte) error {
	rc, err := h.backend.Get(ctx, BlobKey(b3), 0, -1)
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", BlobKey(b3), err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, PackThreshold))
	rc.Close()
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", BlobKey(b3), err)
	}
	if hashing.SumBLAKE3(data) != k {
		return fmt.Errorf("blob %s does not match its hash: damaged in the hub; run `editkit hub check --read-data --repair`", BlobKey(b3))
	}
	_, err = w.pack(ctx, k, data)
	return err
}

// writeMergedIndex writes one index object for the kept packs (less the
// dropped blobs), the new and the adopted ones, then deletes the index
// objects x was read from.
func (h *Hub) writeMergedIndex(ctx context.Context, x *blobIndex, keep []packID, byPack map[uint32][]indexEntry, dropped map[[32]byte]bool, added []storedPack, res *CompactResult) error {
	f := &indexFile{}
	for _, id := range keep {
		var live []packEntry
		for _, e := range byPack[x.packNum[id]] {
			if !dropped[e.b3] {
				live = append(live, packEntry{b3: e.b3, off: e.off, length: e.length})
			}
		}
		f.addPack(id, live)
	}
	for _, p := range added {
		f.addPack(p.id, p.entries)
	}
	key, err := h.putIndex(ctx, f)
	if err != nil {
		return err
	}
	res.IndexWritten = true
	for _, old := range x.files {
		if old == key {
			continue
		}
		old, _, _ = strings.Cut(old, ": ") // a damaged one is listed with its error
		if err := h.backend.Delete(ctx, old); err != nil {
			return fmt.Errorf("deleting the index %s: %w", old, err)
		}
	}
	return nil
}
