package mxf

import (
	"bytes"
	"encoding/binary"
	"math/big"
)

// Local tags (SMPTE 377M static tags) ReadHeader uses.
const (
	tagInstanceUID       = 0x3c0a
	tagContentStorage    = 0x3b03 // Preface
	tagPackages          = 0x1901 // ContentStorage
	tagLinkedPackage     = 0x2701 // EssenceContainerData
	tagPackageUID        = 0x4401 // GenericPackage
	tagPackageName       = 0x4402
	tagTracks            = 0x4403
	tagDescriptor        = 0x4701 // SourcePackage
	tagEditRate          = 0x4b01 // Track
	tagSequence          = 0x4803
	tagDataDefinition    = 0x0201 // StructuralComponent
	tagDuration          = 0x0202
	tagComponents        = 0x1001 // Sequence
	tagStartPosition     = 0x1201 // SourceClip
	tagSourcePackageID   = 0x1101
	tagStartTimecode     = 0x1501 // TimecodeComponent
	tagRoundedTimecode   = 0x1502
	tagDropFrame         = 0x1503
	tagContainerDuration = 0x3002 // FileDescriptor
	tagSubDescriptorUIDs = 0x3f01 // MultipleDescriptor
)

// usedTag reports whether ReadHeader keeps a property; the others are
// skipped as the sets are read.
func usedTag(tag uint16) bool {
	switch tag {
	case tagInstanceUID, tagContentStorage, tagPackages, tagLinkedPackage, tagPackageUID, tagPackageName, tagTracks, tagDescriptor, tagEditRate, tagSequence, tagDataDefinition, tagDuration, tagComponents, tagStartPosition, tagSourcePackageID, tagStartTimecode, tagRoundedTimecode, tagDropFrame, tagContainerDuration, tagSubDescriptorUIDs:
		return true
	}
	return false
}

// Set classes: bytes 14-15 of a structural metadata set's key.
const (
	classPreface          = 0x2f00
	classContentStorage   = 0x1800
	classMaterialPackage  = 0x3600
	classSourcePackage    = 0x3700
	classTimelineTrack    = 0x3b00
	classSequence         = 0x0f00
	classSourceClip       = 0x1100
	classTimecode         = 0x1400
	classEssenceData      = 0x2300
	classMultipleDesc     = 0x4400
	classTapeDescriptor   = 0x2e00
	classImportDescriptor = 0x4a00
)

// descriptorKind is the track kind a descriptor class says, for files whose
// tracks carry no data definition ReadHeader knows.
var descriptorKind = map[uint16]string{
	0x2700: "video", 0x2800: "video", 0x2900: "video", 0x5100: "video", // picture, CDCI, RGBA, MPEG-2
	0x4200: "audio", 0x4700: "audio", 0x4800: "audio", 0x5e00: "audio", // sound, AES3, WAVE, MPEG audio
	0x4300: "data", 0x5b00: "data", 0x5c00: "data", // data, VBI, ANC
}

const (
	kindTimecode = "timecode"
)

// dataDefKind classifies a track's data definition label: the SMPTE ones
// (RP 224) and the legacy AAF ones Avid writes, byte-swapped into MXF order.
func dataDefKind(ul []byte) string {
	if len(ul) != 16 {
		return ""
	}
	if bytes.HasPrefix(ul, []byte{0x06, 0x0e, 0x2b, 0x34, 0x04, 0x01, 0x01}) && ul[8] == 0x01 && ul[9] == 0x03 && ul[10] == 0x02 {
		switch {
		case ul[11] == 0x01:
			return kindTimecode
		case ul[11] == 0x02 && ul[12] == 0x01:
			return "video"
		case ul[11] == 0x02 && ul[12] == 0x02:
			return "audio"
		case ul[11] == 0x02 && ul[12] == 0x03:
			return "data"
		}
		return ""
	}
	if bytes.HasPrefix(ul, []byte{0x80, 0x7d, 0x00, 0x60, 0x08, 0x14, 0x3e, 0x6f}) {
		switch string(ul[8:]) {
		case "\x6f\x3c\x8c\xe1\x6c\xef\x11\xd2":
			return "video"
		case "\x78\xe1\xeb\xe1\x6c\xef\x11\xd2":
			return "audio"
		case "\x7f\x27\x5e\x81\x77\xe5\x11\xd2":
			return kindTimecode
		}
	}
	return ""
}

// header is the parsed header metadata.
type header struct {
	byID  map[[16]byte]*set
	order []*set // as written
}

func (h *header) ref(b []byte) *set {
	if len(b) != 16 {
		return nil
	}
	return h.byID[[16]byte(b)]
}

// maxRefs caps the references ReadHeader follows from one batch (packages
// of the content storage, tracks of a package, components of a sequence):
// real files have a handful, and a hostile one must not make the resolving
// quadratic.
const maxRefs = 256

// refs resolves a batch or array of strong references: a count, an item
// size (16) and the UIDs; at most maxRefs of them.
func (h *header) refs(b []byte) []*set {
	if len(b) < 8 || binary.BigEndian.Uint32(b[4:]) != 16 {
		return nil
	}
	n := int(binary.BigEndian.Uint32(b))
	b = b[8:]
	n = min(n, len(b)/16, maxRefs)
	out := make([]*set, 0, n)
	for i := 0; i < n; i++ {
		if s := h.ref(b[16*i : 16*i+16]); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// packages lists the packages the content storage holds, or, if the file
// has no usable preface, the package sets found (at most maxRefs).
func (h *header) packages() []*set {
	for _, s := range h.order {
		if s.class != classPreface {
			continue
		}
		if cs := h.ref(s.get(tagContentStorage)); cs != nil {
			if ps := h.refs(cs.get(tagPackages)); len(ps) > 0 {
				return ps
			}
		}
		break // the first preface is the one
	}
	var ps []*set
	for _, s := range h.order {
		if (s.class == classMaterialPackage || s.class == classSourcePackage) && len(ps) < maxRefs {
			ps = append(ps, s)
		}
	}
	return ps
}

// track is what ReadHeader needs of one timeline track.
type track struct {
	kind     string
	editRate Rational
	duration int64
	clip     *set // the first source clip, if any
	timecode *set // the first timecode component, if any
}

func (h *header) tracks(pkg *set) []track {
	var out []track
	for _, t := range h.refs(pkg.get(tagTracks)) {
		if t.class != classTimelineTrack {
			continue
		}
		tr := track{editRate: rational(t.get(tagEditRate)), duration: -1}
		seq := h.ref(t.get(tagSequence))
		if seq == nil {
			continue
		}
		tr.kind = dataDefKind(seq.get(tagDataDefinition))
		if d, ok := int64At(seq.get(tagDuration)); ok {
			tr.duration = d
		}
		comps := []*set{seq}
		if seq.class == classSequence {
			comps = h.refs(seq.get(tagComponents))
		}
		for _, c := range comps {
			if tr.kind == "" {
				tr.kind = dataDefKind(c.get(tagDataDefinition))
			}
			switch {
			case c.class == classSourceClip && tr.clip == nil:
				tr.clip = c
			case c.class == classTimecode && tr.timecode == nil:
				tr.timecode = c
			}
		}
		if tr.timecode != nil {
			tr.kind = kindTimecode
		}
		out = append(out, tr)
	}
	return out
}

// essenceTrack picks the track that says what the file is: picture before
// sound before data.
func essenceTrack(ts []track) (track, bool) {
	best, found := track{}, false
	rank := map[string]int{"video": 3, "audio": 2, "data": 1}
	for _, t := range ts {
		if rank[t.kind] > rank[best.kind] {
			best, found = t, true
		}
	}
	return best, found
}

func timecodeTrack(ts []track) (track, bool) {
	for _, t := range ts {
		if t.timecode != nil {
			return t, true
		}
	}
	return track{}, false
}

func umid(b []byte) (UMID, bool) {
	if len(b) != 32 {
		return UMID{}, false
	}
	return UMID(b), true
}

func rational(b []byte) Rational {
	if len(b) != 8 {
		return Rational{}
	}
	return Rational{int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))}
}

func int64At(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// info resolves the header into an Info: the material package, the file
// package (the source package holding the essence), the tape package the
// file package comes from, and the essence and timecode tracks.
func (h *header) info() (*Info, error) {
	var material, file *set
	var sources []*set
	for _, p := range h.packages() {
		switch p.class {
		case classMaterialPackage:
			if material == nil {
				material = p
			}
		case classSourcePackage:
			sources = append(sources, p)
		}
	}
	// byUMID finds a source package other than not by its UMID (files
	// without UMIDs have several all-zero ones).
	byUMID := func(u []byte, not *set) *set {
		for _, s := range sources {
			if s != not && len(u) == 32 && bytes.Equal(s.get(tagPackageUID), u) {
				return s
			}
		}
		return nil
	}
	// The file package is the one the essence container data links to; or
	// the one the material package's essence track plays; or the first
	// source package that is not a tape or import package.
	for _, s := range h.order {
		if s.class == classEssenceData {
			file = byUMID(s.get(tagLinkedPackage), nil)
			break // one essence container per file in OP-Atom and OP1a
		}
	}
	if file == nil && material != nil {
		if t, ok := essenceTrack(h.tracks(material)); ok && t.clip != nil {
			file = byUMID(t.clip.get(tagSourcePackageID), nil)
		}
	}
	if file == nil {
		for _, s := range sources {
			if d := h.ref(s.get(tagDescriptor)); d == nil || (d.class != classTapeDescriptor && d.class != classImportDescriptor) {
				file = s
				break
			}
		}
	}
	if file == nil {
		return nil, damaged("no file (source) package in the header")
	}
	info := &Info{}
	info.FilePackage, _ = umid(file.get(tagPackageUID))
	fileTracks := h.tracks(file)
	var materialTracks []track
	if material != nil {
		info.MaterialPackage, _ = umid(material.get(tagPackageUID))
		info.ClipName = utf16String(material.get(tagPackageName))
		materialTracks = h.tracks(material)
	}
	main, ok := essenceTrack(fileTracks)
	if !ok {
		main, ok = essenceTrack(materialTracks)
	}
	if ok {
		info.Kind = main.kind
		info.EditRate = main.editRate
		info.Duration = main.duration
	}
	desc := h.ref(file.get(tagDescriptor))
	if info.Kind == "" && desc != nil {
		info.Kind = descriptorKind[desc.class]
		if desc.class == classMultipleDesc {
			for _, sub := range h.refs(desc.get(tagSubDescriptorUIDs)) {
				if k := descriptorKind[sub.class]; k != "" {
					info.Kind = k
					break
				}
			}
		}
	}
	if info.Duration < 0 {
		info.Duration = 0
		if t, ok := essenceTrack(materialTracks); ok && t.duration > 0 {
			info.Duration = t.duration
		} else if desc != nil {
			if d, ok := int64At(desc.get(tagContainerDuration)); ok && d > 0 {
				info.Duration = d
			}
		}
	}
	// The tape (physical source) package the file package's essence comes from.
	var tape *set
	var tapeOffset int64
	var tapeRate Rational
	if main.clip != nil {
		if t := byUMID(main.clip.get(tagSourcePackageID), file); t != nil {
			tape = t
			info.TapeName = utf16String(t.get(tagPackageName))
			tapeOffset, _ = int64At(main.clip.get(tagStartPosition))
			tapeRate = main.editRate
		}
	}
	// Start timecode: the file package's own timecode track; else the tape's
	// timecode plus where in the tape the file starts; else the material
	// package's.
	if tc, ok := timecodeTrack(fileTracks); ok {
		info.setTimecode(tc, 0, Rational{})
	} else if tc, ok := timecodeTrack(h.tracksOf(tape)); ok {
		info.setTimecode(tc, tapeOffset, tapeRate)
	} else if tc, ok := timecodeTrack(materialTracks); ok {
		info.setTimecode(tc, 0, Rational{})
	}
	return info, nil
}

func (h *header) tracksOf(pkg *set) []track {
	if pkg == nil {
		return nil
	}
	return h.tracks(pkg)
}

// setTimecode sets the start timecode from a timecode track, plus offset
// edit units at offsetRate, converted to frames at the Info's edit rate.
func (info *Info) setTimecode(t track, offset int64, offsetRate Rational) {
	c := t.timecode
	start, _ := int64At(c.get(tagStartTimecode))
	if b := c.get(tagRoundedTimecode); len(b) == 2 {
		info.TimecodeRate = int(binary.BigEndian.Uint16(b))
	}
	if b := c.get(tagDropFrame); len(b) == 1 {
		info.DropFrame = b[0] != 0
	}
	rate := info.EditRate
	if rate.Num <= 0 || rate.Den <= 0 {
		rate = t.editRate
		info.EditRate = rate
	}
	// The timecode counts frames at its rounded base; the Info counts
	// edit units. They are the same whenever the base is the rounded edit
	// rate (video, and audio at the video's edit rate, as Avid writes it).
	frames := convert(start, Rational{int32(info.TimecodeRate), 1}, rate)
	if info.TimecodeRate <= 0 || roundedRate(rate) == int64(info.TimecodeRate) {
		frames = start
	}
	if offset != 0 {
		frames += convert(offset, offsetRate, rate)
	}
	info.StartTimecode = frames
}

func roundedRate(r Rational) int64 {
	if r.Den <= 0 {
		return 0
	}
	return (int64(r.Num) + int64(r.Den)/2) / int64(r.Den)
}

// convert converts n units at rate from to units at rate to, rounding down;
// unknown rates leave n as it is.
func convert(n int64, from, to Rational) int64 {
	if from.Num <= 0 || from.Den <= 0 || to.Num <= 0 || to.Den <= 0 || from == to {
		return n
	}
	// n * to.Num * from.Den / (to.Den * from.Num), without overflow.
	v := new(big.Int).Mul(big.NewInt(n), big.NewInt(int64(to.Num)*int64(from.Den)))
	v.Quo(v, big.NewInt(int64(to.Den)*int64(from.Num)))
	if !v.IsInt64() {
		return n
	}
	return v.Int64()
}
