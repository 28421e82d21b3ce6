package contenthub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

// The index says which pack holds each packed blob, at which offset. It is
// written as immutable objects under index/, each named by the BLAKE3 of
// its content: a writer adds one per batch of packs (after the packs are
// stored, before anything that references their blobs), prune replaces
// many by one. Readers load every index object once per command and merge
// them; duplicates (the same blob packed twice by two people at once) are
// harmless, the first is used.
//
// In memory the index is a sorted array of fixed 44-byte records (BLAKE3,
// pack number, offset, length), about 44 MB for a million blobs, not a map
// of strings.
const (
	indexPrefix = "index/"
	indexMagic  = "EKINDEX1"
	indexRecord = 32 + 4 + 4 + 4
)

// indexEntry locates one packed blob.
type indexEntry struct {
	b3          [32]byte
	pack        uint32 // number in blobIndex.packs
	off, length uint32
}

// blobIndex is the merged index of a hub.
type blobIndex struct {
	packs   []packID
	packNum map[packID]uint32
	sorted  []indexEntry // by BLAKE3
	recent  map[[32]byte]indexEntry
	files   []string // the index objects read
	damaged []string // index objects that could not be read (hub check reports them)
}

func newBlobIndex() *blobIndex {
	return &blobIndex{packNum: map[packID]uint32{}, recent: map[[32]byte]indexEntry{}}
}

func (x *blobIndex) packNumber(id packID) uint32 {
	n, ok := x.packNum[id]
	if !ok {
		n = uint32(len(x.packs))
		x.packs = append(x.packs, id)
		x.packNum[id] = n
	}
	return n
}

// lookup finds a packed blob.
func (x *blobIndex) lookup(b3 [32]byte) (indexEntry, bool) {
	i, found := slices.BinarySearchFunc(x.sorted, b3, func(e indexEntry, k [32]byte) int { return bytes.Compare(e.b3[:], k[:]) })
	if found {
		return x.sorted[i], true
	}
	e, ok := x.recent[b3]
	return e, ok
}

// addRecent records the blobs of a pack this process just indexed.
func (x *blobIndex) addRecent(id packID, entries []packEntry) {
	n := x.packNumber(id)
	for _, e := range entries {
		if _, ok := x.lookup(e.b3); !ok {
			x.recent[e.b3] = indexEntry{b3: e.b3, pack: n, off: e.off, length: e.length}
		}
	}
}

// sortEntries sorts the merged entries, keeping every location of a blob.
func (x *blobIndex) sortEntries() {
	slices.SortFunc(x.sorted, func(a, b indexEntry) int {
		if c := bytes.Compare(a.b3[:], b.b3[:]); c != 0 {
			return c
		}
		return int(a.pack) - int(b.pack)
	})
}

// all yields every location of every packed blob, recent ones included.
func (x *blobIndex) all(yield func(indexEntry) bool) {
	for _, e := range x.sorted {
		if !yield(e) {
			return
		}
	}
	for _, e := range x.recent {
		if !yield(e) {
			return
		}
	}
}

// indexFile is the content of one index object.
type indexFile struct {
	packs   []packID
	entries []indexEntry // pack numbers are positions in packs
}

// encode lays out an index object: magic, pack count, pack IDs, entry
// count, entries, and the BLAKE3 of all that.
func (f *indexFile) encode() []byte {
	out := make([]byte, 0, len(indexMagic)+8+len(f.packs)*32+len(f.entries)*indexRecord+32)
	out = append(out, indexMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(f.packs)))
	for _, p := range f.packs {
		out = append(out, p[:]...)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(f.entries)))
	for _, e := range f.entries {
		out = append(out, e.b3[:]...)
		out = binary.BigEndian.AppendUint32(out, e.pack)
		out = binary.BigEndian.AppendUint32(out, e.off)
		out = binary.BigEndian.AppendUint32(out, e.length)
	}
	sum := hashing.SumBLAKE3(out)
	return append(out, sum[:]...)
}

var errDamagedIndex = errors.New("damaged index object")

// decodeIndex reads an index object, adding its entries to x.
func (x *blobIndex) decode(data []byte) error {
	if len(data) < len(indexMagic)+8+32 || string(data[:len(indexMagic)]) != indexMagic {
		return fmt.Errorf("%w: not an index", errDamagedIndex)
	}
	body, sum := data[:len(data)-32], data[len(data)-32:]
	if got := hashing.SumBLAKE3(body); !bytes.Equal(got[:], sum) {
		return fmt.Errorf("%w: content does not match its checksum", errDamagedIndex)
	}
	r := body[len(indexMagic):]
	np := int(binary.BigEndian.Uint32(r))
	r = r[4:]
	if len(r) < np*32+4 {
		return fmt.Errorf("%w: truncated", errDamagedIndex)
	}
	nums := make([]uint32, np)
	for i := range nums {
		nums[i] = x.packNumber(packID(r[i*32 : i*32+32]))
	}
	r = r[np*32:]
	ne := int(binary.BigEndian.Uint32(r))
	r = r[4:]
	if len(r) != ne*indexRecord {
		return fmt.Errorf("%w: truncated", errDamagedIndex)
	}
	x.sorted = slices.Grow(x.sorted, ne)
	for i := range ne {
		rec := r[i*indexRecord:]
		var e indexEntry
		copy(e.b3[:], rec[:32])
		p := binary.BigEndian.Uint32(rec[32:])
		if int(p) >= np {
			return fmt.Errorf("%w: entry names pack %d of %d", errDamagedIndex, p, np)
		}
		e.pack = nums[p]
		e.off = binary.BigEndian.Uint32(rec[36:])
		e.length = binary.BigEndian.Uint32(rec[40:])
		x.sorted = append(x.sorted, e)
	}
	return nil
}

// indexState holds a hub's loaded index.
type indexState struct {
	mu sync.Mutex
	x  *blobIndex
}

// index returns the hub's index, loading it on first use.
func (h *Hub) index(ctx context.Context) (*blobIndex, error) {
	h.ix.mu.Lock()
	defer h.ix.mu.Unlock()
	if h.ix.x != nil {
		return h.ix.x, nil
	}
	x, err := h.loadIndex(ctx)
	if err != nil {
		return nil, err
	}
	h.ix.x = x
	return x, nil
}

// ReloadIndex reads the index again: a prune may have repacked blobs since
// it was loaded. Backups call it before re-checking blobs at risk.
func (h *Hub) ReloadIndex(ctx context.Context) error {
	x, err := h.loadIndex(ctx)
	if err != nil {
		return err
	}
	h.ix.mu.Lock()
	h.ix.x = x
	h.ix.mu.Unlock()
	return nil
}

// locations lists every place the index puts a blob: two packs (packed
// twice by two people at once, or a compaction's new pack beside a pack
// an index still names after it is gone), in index order.
func (x *blobIndex) locations(b3 [32]byte) []indexEntry {
	cmp := func(e indexEntry, k [32]byte) int { return bytes.Compare(e.b3[:], k[:]) }
	i, _ := slices.BinarySearchFunc(x.sorted, b3, cmp)
	var out []indexEntry
	for ; i < len(x.sorted) && x.sorted[i].b3 == b3; i++ {
		out = append(out, x.sorted[i])
	}
	if e, ok := x.recent[b3]; ok {
		out = append(out, e)
	}
	return out
}

// packedAt is one place a packed blob is stored.
type packedAt struct {
	pack packID
	e    indexEntry
}

// lookupPacked lists the places the loaded index puts a blob (none: not
// packed).
func (h *Hub) lookupPacked(ctx context.Context, b3 string) ([]packedAt, error) {
	k, err := hashing.ParseBLAKE3(b3)
	if err != nil {
		return nil, fmt.Errorf("blob %q: %w", b3, err)
	}
	x, err := h.index(ctx)
	if err != nil {
		return nil, err
	}
	h.ix.mu.Lock()
	defer h.ix.mu.Unlock()
	var out []packedAt
	for _, e := range x.locations(k) {
		out = append(out, packedAt{x.packs[e.pack], e})
	}
	return out, nil
}

// loadIndex lists and reads every index object. One that disappears while
// it is read (a prune consolidating) makes it start again, so that what
// replaced it is read too.
func (h *Hub) loadIndex(ctx context.Context) (*blobIndex, error) {
	for attempt := 0; ; attempt++ {
		x, err := h.tryLoadIndex(ctx)
		if errors.Is(err, backend.ErrNotFound) && attempt < 5 {
			continue
		}
		return x, err
	}
}

func (h *Hub) tryLoadIndex(ctx context.Context) (*blobIndex, error) {
	x := newBlobIndex()
	for oi, err := range h.backend.List(ctx, indexPrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", indexPrefix, err)
		}
		if !isIndexKey(oi.Key) {
			continue
		}
		rc, err := h.backend.Get(ctx, oi.Key, 0, -1)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", oi.Key, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", oi.Key, err)
		}
		n := len(x.sorted)
		if err := x.decode(data); err != nil {
			x.sorted = x.sorted[:n]
			x.damaged = append(x.damaged, oi.Key+": "+err.Error())
			continue
		}
		x.files = append(x.files, oi.Key)
	}
	x.sortEntries()
	return x, nil
}

func indexKey(sum []byte) string { return indexPrefix + hex.EncodeToString(sum) + ".idx" }

func isIndexKey(key string) bool {
	name, ok := strings.CutSuffix(strings.TrimPrefix(key, indexPrefix), ".idx")
	return ok && validB3(name) && key == indexPrefix+name+".idx"
}

// addPack adds a pack and its entries to an index object.
func (f *indexFile) addPack(id packID, entries []packEntry) {
	n := uint32(len(f.packs))
	f.packs = append(f.packs, id)
	for _, e := range entries {
		f.entries = append(f.entries, indexEntry{b3: e.b3, pack: n, off: e.off, length: e.length})
	}
}

// putIndex stores an index object (one with the same content there is the
// same object) and returns its key.
func (h *Hub) putIndex(ctx context.Context, f *indexFile) (string, error) {
	data := f.encode()
	key := indexKey(data[len(data)-32:])
	err := h.backend.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{IfNotExists: true})
	if err != nil && !errors.Is(err, backend.ErrExists) {
		return "", fmt.Errorf("writing the index %s: %w", key, err)
	}
	return key, nil
}

// writeIndex stores an index object naming packs (already stored) and
// their entries, and adds them to the loaded index.
func (h *Hub) writeIndex(ctx context.Context, packs []storedPack) error {
	f := &indexFile{}
	for _, p := range packs {
		f.addPack(p.id, p.entries)
	}
	key, err := h.putIndex(ctx, f)
	if err != nil {
		return err
	}
	h.ix.mu.Lock()
	defer h.ix.mu.Unlock()
	if h.ix.x != nil {
		for _, p := range packs {
			h.ix.x.addRecent(p.id, p.entries)
		}
		h.ix.x.files = append(h.ix.x.files, key)
	}
	return nil
}
