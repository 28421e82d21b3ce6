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
	dropped := map[[32]byte]bool{}
	for _, b3 := range drop {
		k, err := hashing.ParseBLAKE3(b3)
		if err != nil {
			return nil, err
		}
		dropped[k] = true
	}
	packs, err := h.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	x, err := h.compactIndex(ctx, packs, o.FromPacks)
	if err != nil {
		return nil, err
	}
	// Group the index by pack: which packs stay, which go, which repack.
	byPack := map[uint32][]indexEntry{}
	for _, e := range x.sorted {
		if _, ok := packs[x.packs[e.pack]]; !ok {
			res.DanglingIndex++
			continue
		}
		byPack[e.pack] = append(byPack[e.pack], e)
	}
	var keep, remove []packID
	var repack []indexEntry // blobs to write into new packs
	kept := map[[32]byte]bool{}
	var small []uint32
	droppedInKept := false
	for pn, es := range byPack {
		id := x.packs[pn]
		var live []indexEntry
		var used int64
		for _, e := range es {
			if !dropped[e.b3] {
				live = append(live, e)
				used += int64(e.length)
			}
		}
		size := packs[id].Size - int64(len(es))*packEntrySize - packTrailerSize // its blobs' bytes
		switch {
		case len(live) == 0:
			remove = append(remove, id)
		case float64(used) < repackUsedRatio*float64(size):
			remove = append(remove, id)
			repack = append(repack, live...)
			res.PacksRepacked++
		case size < smallPack:
			small = append(small, pn)
		default:
			keep = append(keep, id)
			for _, e := range live {
				kept[e.b3] = true
			}
			droppedInKept = droppedInKept || len(live) < len(es)
		}
	}
	if len(small) > 1 {
		for _, pn := range small {
			remove = append(remove, x.packs[pn])
			res.PacksRepacked++
			for _, e := range byPack[pn] {
				if !dropped[e.b3] {
					repack = append(repack, e)
				}
			}
		}
	} else {
		for _, pn := range small {
			keep = append(keep, x.packs[pn])
			for _, e := range byPack[pn] {
				if !dropped[e.b3] {
					kept[e.b3] = true
				} else {
					droppedInKept = true
				}
			}
		}
	}
	// Packs no index names, old enough: their writer is gone; index them.
	var adopted []storedPack
	for id, oi := range packs {
		if _, named := x.packNum[id]; named || o.Now().Sub(oi.Modified) < o.MinAge {
			continue
		}
		entries, err := h.readPackHeader(ctx, id, oi.Size)
		if err != nil {
			continue // hub check reports it
		}
		adopted = append(adopted, storedPack{id, entries})
	}

	w := h.NewBlobWriter(ctx)
	w.indexEvery = 0
	w.Hook = o.Hook
	inNew := map[[32]byte]bool{}
	if err := h.repackInto(ctx, w, x, repack, kept, inNew, res); err != nil {
		return nil, err
	}
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
		case dropped[k]:
			looseGone = append(looseGone, b3)
		case !o.PackLoose || oi.Size >= PackThreshold:
		case kept[k] || inNew[k]:
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
	if err := w.store(ctx); err != nil {
		return nil, err
	}
	w.mu.Lock()
	written := w.stored
	w.mu.Unlock()
	res.PacksWritten = len(written)

	// A dropped blob left in a kept pack goes from the index: its bytes
	// stay until the pack is repacked.
	changed := droppedInKept || len(remove) > 0 || len(written) > 0 || len(adopted) > 0 || res.DanglingIndex > 0 || len(x.files) > indexObjectsMerged || o.FromPacks
	if changed {
		// Writing the index deletes the index objects it replaces.
		if err := l.holds(ctx); err != nil {
			return res, err
		}
		if err := h.writeMergedIndex(ctx, x, keep, byPack, dropped, append(written, adopted...), res); err != nil {
			return nil, err
		}
	}
	if o.Hook != nil {
		o.Hook("indexed")
	}
	if err := l.holds(ctx); err != nil {
		return res, err
	}
	// The new index is stored: what it replaces can go (but a pack written
	// again with the same blobs has the same name: it stays).
	for _, p := range written {
		remove = slices.DeleteFunc(remove, func(id packID) bool { return id == p.id })
	}
	for _, id := range remove {
		if err := h.backend.Delete(ctx, id.key()); err != nil {
			return res, fmt.Errorf("deleting pack %s: %w", id.key(), err)
		}
		res.PacksDeleted++
	}
	for _, b3 := range looseGone {
		if err := h.DeleteBlob(ctx, b3); err != nil {
			return res, fmt.Errorf("deleting blob %s: %w", BlobKey(b3), err)
		}
		res.LooseDeleted++
	}
	return res, h.ReloadIndex(ctx)
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
