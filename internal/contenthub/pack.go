package contenthub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/editkit/editkit/internal/hashing"
)

// Packs: blobs smaller than PackThreshold are stored together, many to an
// object, so that a project of 20 000 bins is a handful of requests rather
// than 20 000 (and their latency on S3). Media files are far bigger and
// stay one object per blob, with resumable multipart uploads and range
// reads.
//
// A pack is the blobs back to back, then a header listing them (BLAKE3 and
// length, in order, so each one's offset follows), then a fixed-size
// trailer (the header's entry count, the header's BLAKE3, a magic). A pack
// therefore describes itself: the index can always be rebuilt from the
// packs alone. Its key is the BLAKE3 of its whole content, so keys are
// unique and a pack is never rewritten.
const (
	// PackThreshold: a blob below it goes into a pack. Avid bins are 1–500
	// KB, Pro Tools session files smaller still; media is many MiB. At
	// 1 MiB a pack holds at least 16 blobs and usually thousands.
	PackThreshold = 1 << 20
	// packTarget is the size at which a pack is sealed and uploaded: one
	// request per 16 MiB keeps S3 request costs and latency negligible
	// against the bytes, while a repack by prune rewrites at most that
	// much to drop one blob, and a writer holds at most a few in memory.
	packTarget = 16 << 20

	packsPrefix     = "packs/"
	packMagic       = "EKPACK01"
	packEntrySize   = 32 + 4
	packTrailerSize = 4 + 32 + 8 // count, header BLAKE3, magic
)

// packID names a pack: the BLAKE3 of its content.
type packID [32]byte

func (p packID) String() string { return hex.EncodeToString(p[:]) }

// key is where the pack lives.
func (p packID) key() string { s := p.String(); return packsPrefix + s[:2] + "/" + s }

// packOf is the pack stored under key, if key holds one.
func packOf(key string) (packID, bool) {
	var id packID
	name := key[strings.LastIndexByte(key, '/')+1:]
	if !validB3(name) {
		return id, false
	}
	hex.Decode(id[:], []byte(name))
	return id, key == id.key()
}

// packEntry is one blob in a pack.
type packEntry struct {
	b3          [32]byte
	off, length uint32
}

// packBuilder collects blobs for a pack in memory.
type packBuilder struct {
	buf     []byte
	entries []packEntry
}

func (p *packBuilder) add(b3 [32]byte, data []byte) {
	p.entries = append(p.entries, packEntry{b3: b3, off: uint32(len(p.buf)), length: uint32(len(data))})
	p.buf = append(p.buf, data...)
}

func (p *packBuilder) size() int { return len(p.buf) + len(p.entries)*packEntrySize + packTrailerSize }

// seal appends the header and trailer and returns the pack's content, its
// ID and its entries; p is empty again.
func (p *packBuilder) seal() (packID, []byte, []packEntry) {
	data, entries := p.buf, p.entries
	p.buf, p.entries = nil, nil
	hdrStart := len(data)
	for _, e := range entries {
		data = append(data, e.b3[:]...)
		data = binary.BigEndian.AppendUint32(data, e.length)
	}
	sum := hashing.SumBLAKE3(data[hdrStart:])
	data = binary.BigEndian.AppendUint32(data, uint32(len(entries)))
	data = append(data, sum[:]...)
	data = append(data, packMagic...)
	return packID(hashing.SumBLAKE3(data)), data, entries
}

// errDamagedPack: a pack whose header or trailer does not hold together.
var errDamagedPack = errors.New("damaged pack")

// parsePackTail reads the entries of a pack of size bytes from its tail
// (at least the header and trailer; more is fine).
func parsePackTail(tail []byte, size int64) ([]packEntry, error) {
	if len(tail) < packTrailerSize || int64(len(tail)) > size {
		return nil, fmt.Errorf("%w: too short", errDamagedPack)
	}
	tr := tail[len(tail)-packTrailerSize:]
	if string(tr[4+32:]) != packMagic {
		return nil, fmt.Errorf("%w: no pack trailer", errDamagedPack)
	}
	n := int64(binary.BigEndian.Uint32(tr))
	hdrLen := n * packEntrySize
	if hdrLen+packTrailerSize > int64(len(tail)) {
		if hdrLen+packTrailerSize > size {
			return nil, fmt.Errorf("%w: header of %d entries larger than the pack", errDamagedPack, n)
		}
		return nil, errShortTail{need: hdrLen + packTrailerSize}
	}
	hdr := tail[len(tail)-packTrailerSize-int(hdrLen) : len(tail)-packTrailerSize]
	if sum := hashing.SumBLAKE3(hdr); !bytes.Equal(sum[:], tr[4:4+32]) {
		return nil, fmt.Errorf("%w: header does not match its checksum", errDamagedPack)
	}
	entries := make([]packEntry, n)
	var off int64
	for i := range entries {
		rec := hdr[i*packEntrySize:]
		copy(entries[i].b3[:], rec[:32])
		entries[i].length = binary.BigEndian.Uint32(rec[32:])
		entries[i].off = uint32(off)
		off += int64(entries[i].length)
	}
	if off != size-hdrLen-packTrailerSize {
		return nil, fmt.Errorf("%w: its blobs add up to %d bytes, the pack holds %d", errDamagedPack, off, size-hdrLen-packTrailerSize)
	}
	return entries, nil
}

// errShortTail asks for a longer tail.
type errShortTail struct{ need int64 }

func (e errShortTail) Error() string { return fmt.Sprintf("need the last %d bytes", e.need) }

// readPackHeader reads a pack's list of blobs from its end: one request
// for packs of up to a few thousand blobs, two for more.
func (h *Hub) readPackHeader(ctx context.Context, id packID, size int64) ([]packEntry, error) {
	want := min(size, 128<<10)
	for range 2 {
		rc, err := h.backend.Get(ctx, id.key(), size-want, want)
		if err != nil {
			return nil, err
		}
		tail, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		entries, err := parsePackTail(tail, size)
		var short errShortTail
		if errors.As(err, &short) {
			want = short.need
			continue
		}
		return entries, err
	}
	return nil, fmt.Errorf("%w: header keeps growing", errDamagedPack)
}
