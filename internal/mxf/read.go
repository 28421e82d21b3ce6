package mxf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
)

// Limits on what a file can make ReadHeader read or allocate.
const (
	// MaxRunIn is the longest run-in SMPTE 377M allows before the header
	// partition pack.
	MaxRunIn = 65536
	// MaxHeaderMetadata caps the header metadata ReadHeader reads. Real
	// headers are kilobytes to a few hundred kilobytes (Avid's are the
	// largest); a bigger count is damage or hostility.
	MaxHeaderMetadata = 16 << 20
	// maxPackLen caps a partition pack (its fixed part is 88 bytes plus
	// the essence container batch).
	maxPackLen = 64 << 10
	// maxFill caps the fill between the partition pack and the primer
	// pack (KAG alignment).
	maxFill = 1 << 20
	// maxSets caps the local sets kept (real headers have tens to
	// hundreds).
	maxSets = 20_000
)

// ErrDamaged wraps every error about a file that starts like MXF but whose
// header cannot be read.
var ErrDamaged = errors.New("damaged MXF header")

func damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, args...))
}

// Keys (SMPTE 336M universal labels) ReadHeader recognises.
var (
	// partitionPrefix is the first 11 bytes of every partition pack key;
	// a run-in never contains them (377M 6.5).
	partitionPrefix = []byte{0x06, 0x0e, 0x2b, 0x34, 0x02, 0x05, 0x01, 0x01, 0x0d, 0x01, 0x02}
	// localSetPrefix starts a header metadata set with 2-byte local tags
	// and 2-byte lengths (byte 7, the registry version, may vary).
	localSetPrefix = []byte{0x06, 0x0e, 0x2b, 0x34, 0x02, 0x53, 0x01}
	// structuralItem is bytes 8-13 of the keys of the structural metadata
	// sets; bytes 14-15 name the class.
	structuralItem = []byte{0x0d, 0x01, 0x01, 0x01, 0x01, 0x01}
)

// firstRead is how much of a file ReadHeader reads first: the partition
// pack and, in small headers, the start of the metadata.
const firstRead = 4096

// HeadSize is how many leading bytes Sniff needs to recognise any MXF file.
const HeadSize = MaxRunIn + 16

// Sniff reports whether head, the first bytes of a file (HeadSize or the
// whole file if shorter), starts like an MXF file: a header partition pack,
// possibly after a run-in.
func Sniff(head []byte) bool {
	at := findPartition(head)
	return at >= 0 && at+16 <= len(head) && isHeaderPartitionKey(head[at:at+16])
}

// findPartition returns where the first partition pack key starts within the
// run-in window of head, or -1.
func findPartition(head []byte) int {
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}
	return bytes.Index(head, partitionPrefix)
}

func isHeaderPartitionKey(k []byte) bool {
	return bytes.HasPrefix(k, partitionPrefix) && k[11] == 0x01 && k[12] == 0x01 && k[13] == 0x02
}

func isFooterPartitionKey(k []byte) bool {
	return bytes.HasPrefix(k, partitionPrefix) && k[11] == 0x01 && k[12] == 0x01 && k[13] == 0x04
}

func isPrimerKey(k []byte) bool {
	return bytes.HasPrefix(k, partitionPrefix) && k[11] == 0x01 && k[12] == 0x01 && k[13] == 0x05 && k[14] == 0x01
}

// isFillKey matches KLV fill, whatever the registry version byte says.
func isFillKey(k []byte) bool {
	return bytes.HasPrefix(k, []byte{0x06, 0x0e, 0x2b, 0x34, 0x01, 0x01, 0x01}) &&
		bytes.Equal(k[8:], []byte{0x03, 0x01, 0x02, 0x10, 0x01, 0x00, 0x00, 0x00})
}

// isIndexKey matches an index table segment, which may follow the header
// metadata in the same partition.
func isIndexKey(k []byte) bool {
	return bytes.HasPrefix(k, localSetPrefix) && bytes.Equal(k[8:14], []byte{0x0d, 0x01, 0x02, 0x01, 0x01, 0x10})
}

// partition is the part of a partition pack ReadHeader uses.
type partition struct {
	end             int64 // offset of the byte after the pack
	footer          int64
	headerByteCount int64
	// complete: the metadata is final (a streamed file's header partition
	// is written before the durations are known; its footer repeats the
	// metadata, complete).
	complete bool
}

// ReadHeader reads the header metadata of the MXF file r of the given size
// and returns what it says about the file's media. It reads the first
// HeadSize bytes, the partition pack and the header metadata it counts
// (falling back to the footer partition's copy when the header partition
// carries none) and nothing else. It returns ErrNotMXF for input that is not
// MXF, and an error wrapping ErrDamaged for an MXF file whose header cannot
// be read.
func ReadHeader(r io.ReaderAt, size int64) (*Info, error) {
	// Nearly every file starts with its partition pack; only a file with a
	// run-in needs the whole run-in window read.
	head := make([]byte, min(size, firstRead))
	if _, err := readFull(r, head, 0); err != nil {
		return nil, err
	}
	at := findPartition(head)
	if at < 0 && size > firstRead {
		head = make([]byte, min(size, HeadSize))
		if _, err := readFull(r, head, 0); err != nil {
			return nil, err
		}
		at = findPartition(head)
	}
	if at < 0 || at+16 > len(head) || !isHeaderPartitionKey(head[at:at+16]) {
		return nil, ErrNotMXF
	}
	hp, err := readPartition(r, size, int64(at), head)
	if err != nil {
		return nil, err
	}
	p := hp
	if !hp.complete || hp.headerByteCount == 0 {
		// An open or streamed header partition can leave the metadata, or
		// its final version, to the footer partition.
		fp, err := readFooter(r, size, int64(at), hp)
		switch {
		case err == nil && fp.headerByteCount > 0:
			p = fp
		case hp.headerByteCount > 0:
		case err != nil:
			return nil, err
		default:
			return nil, damaged("no header metadata in the header or footer partition")
		}
	}
	meta, err := readMetadata(r, size, p)
	if err != nil {
		return nil, err
	}
	sets, err := parseSets(meta)
	if err != nil {
		return nil, err
	}
	return sets.info()
}

// maxRIP caps the random index pack read to find a footer partition.
const maxRIP = 1 << 20

// readFooter reads the footer partition pack: where the header partition
// says, or, when the header was written before the footer's place was
// known, where the random index pack at the end of the file says.
func readFooter(r io.ReaderAt, size, headerAt int64, hp partition) (partition, error) {
	off := hp.footer
	if off <= headerAt || off >= size {
		var err error
		if off, err = footerFromRIP(r, size, headerAt); err != nil {
			return partition{}, err
		}
	}
	p, err := readPartition(r, size, off, nil)
	if err != nil {
		return partition{}, err
	}
	var key [16]byte
	if _, err := readFull(r, key[:], off); err != nil {
		return partition{}, err
	}
	if !isFooterPartitionKey(key[:]) {
		return partition{}, damaged("no footer partition pack at %d", off)
	}
	return p, nil
}

// footerFromRIP finds the footer partition in the random index pack: its
// last entry. The pack ends the file, its length in its last 4 bytes.
func footerFromRIP(r io.ReaderAt, size, headerAt int64) (int64, error) {
	var tail [4]byte
	if size < headerAt+4 {
		return 0, damaged("no footer partition")
	}
	if _, err := readFull(r, tail[:], size-4); err != nil {
		return 0, err
	}
	n := int64(binary.BigEndian.Uint32(tail[:]))
	if n < 16+1+12+4 || n > maxRIP || n > size-headerAt {
		return 0, damaged("no footer partition and no random index pack")
	}
	rip := make([]byte, n)
	if _, err := readFull(r, rip, size-n); err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(rip, partitionPrefix) || rip[13] != 0x11 {
		return 0, damaged("no footer partition and no random index pack")
	}
	l, ll, ok := berLength(rip[16:])
	if !ok || l != n-16-int64(ll) || l < 16 {
		return 0, damaged("bad random index pack")
	}
	// Entries of 12 bytes (body SID, offset), then the 4-byte length.
	last := rip[n-4-12:]
	return int64(binary.BigEndian.Uint64(last[4:])), nil
}

// readFull reads len(b) bytes at off, calling a short read damage.
func readFull(r io.ReaderAt, b []byte, off int64) (int, error) {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return n, damaged("file ends at %d, inside the header", off+int64(n))
	}
	return n, err
}

// readPartition reads the partition pack at off. head, if not nil, holds the
// file's first bytes, which usually contain it.
func readPartition(r io.ReaderAt, size, off int64, head []byte) (partition, error) {
	var buf []byte
	if head != nil && off+16+9+88 <= int64(len(head)) {
		buf = head[off:]
	} else {
		if off < 0 || off+16+9 > size {
			return partition{}, damaged("partition pack at %d is past the end of the file", off)
		}
		buf = make([]byte, min(size-off, 16+9+88))
		if _, err := readFull(r, buf, off); err != nil {
			return partition{}, err
		}
	}
	key := buf[:16]
	if !bytes.HasPrefix(key, partitionPrefix) {
		return partition{}, damaged("no partition pack at %d", off)
	}
	n, ll, ok := berLength(buf[16:])
	if !ok || n < 88 || n > maxPackLen {
		return partition{}, damaged("partition pack at %d has a bad length", off)
	}
	if 16+ll+88 > len(buf) {
		return partition{}, damaged("partition pack at %d is cut short", off)
	}
	v := buf[16+ll:]
	p := partition{
		// Key byte 14: 1 open incomplete, 2 closed incomplete, 3 open
		// complete, 4 closed complete.
		complete:        key[14] == 0x03 || key[14] == 0x04,
		end:             off + 16 + int64(ll) + int64(n),
		footer:          int64(binary.BigEndian.Uint64(v[24:])),
		headerByteCount: int64(binary.BigEndian.Uint64(v[32:])),
	}
	if p.footer < 0 {
		p.footer = 0
	}
	if p.headerByteCount < 0 || p.headerByteCount > MaxHeaderMetadata {
		return partition{}, damaged("partition at %d claims %d bytes of header metadata (limit %d)", off, uint64(p.headerByteCount), MaxHeaderMetadata)
	}
	if p.end > size {
		return partition{}, damaged("partition pack at %d runs past the end of the file", off)
	}
	return p, nil
}

// berLength decodes a BER length, returning the length, how many bytes it
// took and whether it was well formed and fits an int.
func berLength(b []byte) (n int64, used int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return int64(b[0]), 1, true
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 8 || len(b) < 1+k {
		return 0, 0, false
	}
	var v uint64
	for _, c := range b[1 : 1+k] {
		v = v<<8 | uint64(c)
	}
	if v > 1<<62 {
		return 0, 0, false
	}
	return int64(v), 1 + k, true
}

// readMetadata reads partition p's header metadata: the primer pack (after
// any fill) and the sets that follow, headerByteCount bytes from the primer.
// Writers differ on whether the count includes the fill before the primer;
// counting from the primer reads at most that fill too much, and the parser
// stops at the first key that is not header metadata.
func readMetadata(r io.ReaderAt, size int64, p partition) ([]byte, error) {
	off := p.end
	var k [16 + 9]byte
	for skipped := int64(0); ; {
		n := min(int64(len(k)), size-off)
		if n < 17 {
			return nil, damaged("file ends at %d, before the header metadata", off)
		}
		if _, err := readFull(r, k[:n], off); err != nil {
			return nil, err
		}
		if isPrimerKey(k[:16]) {
			break
		}
		if !isFillKey(k[:16]) {
			return nil, damaged("no primer pack at %d", off)
		}
		l, ll, ok := berLength(k[16:n])
		if !ok {
			return nil, damaged("bad fill length at %d", off)
		}
		skipped += 16 + int64(ll) + l
		if skipped > maxFill {
			return nil, damaged("more than %d bytes of fill before the header metadata", maxFill)
		}
		off += 16 + int64(ll) + l
	}
	n := min(p.headerByteCount, size-off)
	meta := make([]byte, n)
	if _, err := readFull(r, meta, off); err != nil {
		return nil, err
	}
	return meta, nil
}

// set is one local set of header metadata: its class (bytes 14-15 of its
// key) and its items, in the order written.
type set struct {
	class uint16
	items []item
}

type item struct {
	tag   uint16
	value []byte
}

func (s *set) get(tag uint16) []byte {
	for _, it := range s.items {
		if it.tag == tag {
			return it.value
		}
	}
	return nil
}

// parseSets splits the header metadata into local sets, keyed by instance
// UID. It stops at the first key that is not header metadata (an index table
// segment, essence, the next partition).
func parseSets(meta []byte) (*header, error) {
	h := &header{byID: map[[16]byte]*set{}}
	first := true
	for len(meta) >= 17 {
		key := meta[:16]
		l, ll, ok := berLength(meta[16:])
		if !ok || l > int64(len(meta)-16-ll) {
			if first {
				return nil, damaged("bad primer pack length")
			}
			break // a cut-short last set; keep what was read
		}
		value := meta[16+ll : 16+ll+int(l)]
		meta = meta[16+ll+int(l):]
		switch {
		case first:
			if !isPrimerKey(key) {
				return nil, damaged("header metadata does not start with a primer pack")
			}
			first = false
		case isFillKey(key):
		case isIndexKey(key):
			return h, nil
		case bytes.HasPrefix(key, localSetPrefix) && bytes.Equal(key[8:14], structuralItem):
			s := &set{class: binary.BigEndian.Uint16(key[14:16])}
			for v := value; len(v) >= 4; {
				tag := binary.BigEndian.Uint16(v)
				n := int(binary.BigEndian.Uint16(v[2:]))
				if n > len(v)-4 {
					break
				}
				// Only the properties ReadHeader uses, once each: memory
				// stays bounded by the number of sets.
				if usedTag(tag) && s.get(tag) == nil {
					s.items = append(s.items, item{tag, v[4 : 4+n]})
				}
				v = v[4+n:]
			}
			id := s.get(tagInstanceUID)
			if len(id) != 16 {
				continue
			}
			if len(h.byID) >= maxSets {
				return nil, damaged("more than %d header metadata sets", maxSets)
			}
			h.byID[[16]byte(id)] = s
			h.order = append(h.order, s)
		case bytes.HasPrefix(key, localSetPrefix):
			// other metadata (descriptive, dark): not needed
		default:
			return h, nil
		}
	}
	if first {
		return nil, damaged("header metadata does not start with a primer pack")
	}
	return h, nil
}

// utf16String decodes an MXF string: UTF-16BE, maybe NUL-terminated.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.BigEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
