package samplemedia

import (
	"encoding/binary"
	"fmt"
	"time"
)

// noise is the fill after each file's header: splitmix64, which is several
// GB/s in pure Go (a 2 GiB tree is bound by the disk, not by this) and, unlike
// a repeated pattern, neither compresses nor dedups to nothing.
type noise struct{ x uint64 }

// newNoise seeds a file's stream from the tree's seed and the file's path, so
// a file's bytes do not depend on which worker writes it or when.
func newNoise(seed uint64, path string) noise {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(path); i++ {
		h ^= uint64(path[i])
		h *= 1099511628211
	}
	return noise{x: mix64(seed ^ mix64(h))}
}

func (n *noise) fill(b []byte) {
	x := n.x
	for len(b) >= 8 {
		x += 0x9e3779b97f4a7c15
		binary.LittleEndian.PutUint64(b, mix64(x))
		b = b[8:]
	}
	if len(b) > 0 {
		x += 0x9e3779b97f4a7c15
		v := mix64(x)
		for i := range b {
			b[i] = byte(v)
			v >>= 8
		}
	}
	n.x = x
}

// mix64 is the splitmix64 finalizer.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// SMPTE universal labels and keys, as strings so they stay constant.
const (
	// Header partition pack, closed and complete (SMPTE 377-1).
	mxfHeaderPartitionKey = "\x06\x0e\x2b\x34\x02\x05\x01\x01\x0d\x01\x02\x01\x01\x02\x04\x00"
	// OP-Atom: Avid keeps one track per file.
	mxfOPAtom = "\x06\x0e\x2b\x34\x04\x01\x01\x02\x0d\x01\x02\x01\x10\x00\x00\x00"
	// Essence containers: DNxHD frame-wrapped, and BWF (PCM) frame-wrapped.
	mxfDNxHDContainer = "\x06\x0e\x2b\x34\x04\x01\x01\x0a\x0d\x01\x03\x01\x02\x11\x01\x00"
	mxfPCMContainer   = "\x06\x0e\x2b\x34\x04\x01\x01\x01\x0d\x01\x03\x01\x02\x06\x01\x00"
	// Generic container picture and sound element keys.
	mxfPictureElement = "\x06\x0e\x2b\x34\x01\x02\x01\x01\x0d\x01\x03\x01\x15\x01\x05\x01"
	mxfSoundElement   = "\x06\x0e\x2b\x34\x01\x02\x01\x01\x0d\x01\x03\x01\x16\x01\x01\x01"
)

// mxfHeaderSize is the length of what mxfHeader writes: the partition pack
// KLV (16 + 4 + 104) and the essence element's key and 9-byte length.
const mxfHeaderSize = 16 + 4 + 104 + 16 + 9

// mxfHeader returns a header builder for an OP-Atom MXF file of one picture
// or sound track: a header partition pack, then a single essence element
// whose length runs to the end of the file.
func mxfHeader(picture bool) func(size int64) []byte {
	return func(size int64) []byte {
		container, element := mxfPCMContainer, mxfSoundElement
		if picture {
			container, element = mxfDNxHDContainer, mxfPictureElement
		}
		b := make([]byte, 0, mxfHeaderSize)
		b = append(b, mxfHeaderPartitionKey...)
		b = append(b, 0x83, 0, 0, 104)          // BER long form, 3 bytes
		b = binary.BigEndian.AppendUint16(b, 1) // major version
		b = binary.BigEndian.AppendUint16(b, 3) // minor version
		b = binary.BigEndian.AppendUint32(b, 1) // KAG size
		b = binary.BigEndian.AppendUint64(b, 0) // this partition
		b = binary.BigEndian.AppendUint64(b, 0) // previous partition
		b = binary.BigEndian.AppendUint64(b, 0) // footer partition: unknown
		b = binary.BigEndian.AppendUint64(b, 0) // header byte count
		b = binary.BigEndian.AppendUint64(b, 0) // index byte count
		b = binary.BigEndian.AppendUint32(b, 0) // index SID
		b = binary.BigEndian.AppendUint64(b, 0) // body offset
		b = binary.BigEndian.AppendUint32(b, 1) // body SID
		b = append(b, mxfOPAtom...)
		b = binary.BigEndian.AppendUint32(b, 1)  // essence containers: count
		b = binary.BigEndian.AppendUint32(b, 16) // and item length
		b = append(b, container...)
		b = append(b, element...)
		b = append(b, 0x88) // BER long form, 8 bytes
		return binary.BigEndian.AppendUint64(b, uint64(max(0, size-mxfHeaderSize)))
	}
}

// WAV files are Broadcast WAV as Pro Tools writes them: 48 kHz, 24-bit PCM,
// a bext chunk, then fmt and data.
const (
	wavRate       = 48000
	wavBits       = 24
	wavBextSize   = 602 // BWF version 1 without coding history
	wavHeaderSize = 12 + 8 + wavBextSize + 8 + 16 + 8
)

// wavSize returns the size of a WAV file of about want bytes that holds a
// whole, even number of frames, so the data chunk needs no pad byte.
func wavSize(want int64, channels int) int64 {
	frame := int64(channels * wavBits / 8)
	frames := max(2, (want-wavHeaderSize)/frame) &^ 1
	return wavHeaderSize + frames*frame
}

// wavHeader returns a header builder for a file sized by wavSize.
func wavHeader(channels int, description string, mtime time.Time) func(size int64) []byte {
	return func(size int64) []byte {
		blockAlign := channels * wavBits / 8
		b := make([]byte, 0, wavHeaderSize)
		b = append(b, "RIFF"...)
		b = binary.LittleEndian.AppendUint32(b, uint32(size-8))
		b = append(b, "WAVE"...)

		b = append(b, "bext"...)
		b = binary.LittleEndian.AppendUint32(b, wavBextSize)
		bext := make([]byte, wavBextSize)
		copy(bext[0:256], description)
		copy(bext[256:288], "Pro Tools")
		copy(bext[288:320], fmt.Sprintf("aaOR%016x", uint64(mtime.Unix())))
		copy(bext[320:330], mtime.UTC().Format("2006-01-02"))
		copy(bext[330:338], mtime.UTC().Format("15:04:05"))
		h, m, s := mtime.UTC().Clock()
		binary.LittleEndian.PutUint64(bext[338:346], uint64((h*3600+m*60+s)*wavRate)) // time reference
		binary.LittleEndian.PutUint16(bext[346:348], 1)                               // version
		b = append(b, bext...)

		b = append(b, "fmt "...)
		b = binary.LittleEndian.AppendUint32(b, 16)
		b = binary.LittleEndian.AppendUint16(b, 1) // PCM
		b = binary.LittleEndian.AppendUint16(b, uint16(channels))
		b = binary.LittleEndian.AppendUint32(b, wavRate)
		b = binary.LittleEndian.AppendUint32(b, uint32(wavRate*blockAlign))
		b = binary.LittleEndian.AppendUint16(b, uint16(blockAlign))
		b = binary.LittleEndian.AppendUint16(b, wavBits)

		b = append(b, "data"...)
		return binary.LittleEndian.AppendUint32(b, uint32(size-wavHeaderSize))
	}
}

// movHeader returns a header builder for a QuickTime file: an ftyp atom and
// an mdat atom that runs to the end of the file.
func movHeader(size int64) []byte {
	b := []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ")
	b = binary.BigEndian.AppendUint32(b, uint32(max(0, size-int64(len(b)))))
	return append(b, "mdat"...)
}

// appleDouble is the 4 KiB ._ file macOS writes next to a file on a volume
// without extended attributes: a Finder info entry and an empty resource
// fork, mostly zeros.
func appleDouble() []byte {
	b := make([]byte, 4096)
	binary.BigEndian.PutUint32(b[0:], 0x00051607) // magic
	binary.BigEndian.PutUint32(b[4:], 0x00020000) // version
	copy(b[8:24], "Mac OS X        ")
	binary.BigEndian.PutUint16(b[24:], 2)
	entries := [][3]uint32{{9, 50, 3760}, {2, 3810, 286}} // Finder info, resource fork
	for i, e := range entries {
		off := 26 + 12*i
		binary.BigEndian.PutUint32(b[off:], e[0])
		binary.BigEndian.PutUint32(b[off+4:], e[1])
		binary.BigEndian.PutUint32(b[off+8:], e[2])
	}
	copy(b[84:], "ATTR")
	binary.BigEndian.PutUint32(b[3810:], 0x100) // resource data offset
	copy(b[3810+0x100+16:], "This resource fork intentionally left blank   ")
	return b
}

// Magic numbers at the start of the other formats. Their bodies are noise:
// nothing in editkit parses them, but a tool that sniffs types should see
// the right kind of file.
const (
	avidDomainMagic = "\x06\x00Domain\x00\x00\x00\x04OBJD\x00\x07AObjDoc" // .avb, .avp, .avs, .mdb
	avidPMRMagic    = "\x00\x00\x00\x01PMR0FMID"
	proToolsMagic   = "\x030010111100101011\x00\x00\x00\x00" // .ptx
	dsStoreMagic    = "\x00\x00\x00\x01Bud1\x00\x00\x10\x00"
	oleMagic        = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" // Thumbs.db
	gzipMagic       = "\x1f\x8b\x08\x00"                 // .fseventsd logs
	dpxMagic        = "SDPX\x00\x00\x08\x00V2.0\x00"
	waveCacheMagic  = "WFM1"
)
