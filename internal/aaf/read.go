// Package aaf reads which media an Avid AAF cut uses: it walks the
// compositions' source clips through master mobs to the file source mobs,
// whose MobIDs are the UMIDs in the MXF files. It reads only the objects on
// that path from the compound file (never embedded essence), with every
// length from the file bounded, so hostile input costs a bounded read and
// gives an error, never a panic.
package aaf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/editkit/editkit/internal/mxf"
)

// Property IDs of the AAF object model used here.
const (
	pidHeader        = 0x0002
	pidContent       = 0x3b03
	pidMobs          = 0x1901
	pidMobID         = 0x4401
	pidMobName       = 0x4402
	pidMobSlots      = 0x4403
	pidSlotID        = 0x4801
	pidSlotSegment   = 0x4803
	pidComponents    = 0x1001
	pidSourceID      = 0x1101
	pidSourceSlotID  = 0x1102
	pidInputSegments = 0x0b02
	pidTransitionOp  = 0x1801
	pidSelected      = 0x0f01
	pidChoices       = 0x0501
	pidNestedSlots   = 0x0c01
	pidEssenceDesc   = 0x4701
	pidLocators      = 0x2f01
	pidURLString     = 0x4001
)

// Class label bytes (0d010101-0101-XX00-060e-2b3402060101).
const (
	classCompositionMob = "35"
	classMasterMob      = "36"
	classSourceMob      = "37"
)

// physicalDescriptors are the essence descriptor classes of a source mob
// that stands for a tape, film or imported file rather than a media file
// Avid plays.
var physicalDescriptors = []string{"2D", "2E", "49", "4A", "4B", "4E", "50"}

// MobID is a MobID as an AAF file stores it: the material number's first
// three fields little-endian.
type MobID [32]byte

// UMID returns the MobID in SMPTE byte order, as the MXF file holds it.
// Avid-style UMIDs (material number starting 06 0e 2b 34 7f 7f) keep the
// label part of the material number first.
func (m MobID) UMID() mxf.UMID {
	var u mxf.UMID
	copy(u[:16], m[:16])
	reversed := func(b []byte) []byte { return []byte{b[len(b)-1], b[0]} }
	var fields [12]byte // Data1 (4), Data2 (2), Data3 (2), big-endian
	fields[0], fields[1], fields[2], fields[3] = m[19], m[18], m[17], m[16]
	copy(fields[4:6], reversed(m[20:22]))
	copy(fields[6:8], reversed(m[22:24]))
	swapped := m[11] == 0x00 && m[24] == 0x06 && m[25] == 0x0e && m[26] == 0x2b && m[27] == 0x34 && m[28] == 0x7f && m[29] == 0x7f
	if swapped {
		copy(u[16:24], m[24:32])
		copy(u[24:32], fields[:8])
	} else {
		copy(u[16:24], fields[:8])
		copy(u[24:32], m[24:32])
	}
	return u
}

// IsZero reports whether the MobID is all zeros: a source clip at the end of
// a chain (original media) refers to it.
func (m MobID) IsZero() bool { return m == MobID{} }

// Cut is what the compositions read use.
type Cut struct {
	// Compositions are the names of the compositions walked (all, or the
	// one asked for).
	Compositions []string
	// Media are the file source mobs the compositions use, each once, in
	// the order first used; and references that could not be followed to
	// one (Resolved false).
	Media []Media
}

// Media is one media file a cut uses.
type Media struct {
	// FileMob is the file source mob's MobID in MXF byte order: the file
	// package UMID of the MXF file. Zero when not Resolved to a file mob.
	FileMob mxf.UMID
	// MasterMob is the master mob (the MXF material package) it was reached
	// through, if any; when the cut refers to a mob the AAF does not hold,
	// this is that mob's ID.
	MasterMob mxf.UMID
	Name      string // master mob (clip) name
	Tape      string // the tape or import source behind the file mob
	URL       string // the file mob's network locator, if any
	Uses      int    // source clips in the compositions that lead to it
	// Resolved is false when the file mob is not in the AAF: then FileMob
	// (if known) and MasterMob are all that names the media, and MasterMob
	// may be any kind of mob the composition referred to.
	Resolved bool
}

// Options choose what to read.
type Options struct {
	// Sequence selects the composition of this name; empty reads all.
	Sequence string
}

// ErrNoSequence is returned when Options.Sequence names no composition.
var ErrNoSequence = errors.New("no such sequence")

// IsFormat reports whether err says the input is not a readable AAF file.
func IsFormat(err error) bool { return errors.Is(err, errFormat) }

type mob struct {
	obj   *object
	id    MobID
	name  string
	slots []*node
}

type slotKey struct {
	id   MobID
	slot uint32
}

type reader struct {
	s    *store
	mobs map[MobID]*mob
	// memo holds, per (mob, slot), the file media it leads to, so a clip
	// used a thousand times is walked once; inProgress catches cycles.
	memo       map[slotKey]*leaves
	work       int // media merged so far, against maxWork
	inProgress map[slotKey]bool
}

// leaf is one media a mob slot leads to.
type leaf struct {
	fileMob, masterMob MobID
	resolved           bool
}

// Read reads the cut in the AAF file r of the given size.
func Read(r io.ReaderAt, size int64, opt Options) (*Cut, error) {
	s, err := openStore(r, size)
	if err != nil {
		return nil, err
	}
	rd := &reader{s: s, mobs: map[MobID]*mob{}, memo: map[slotKey]*leaves{}, inProgress: map[slotKey]bool{}}
	root, err := s.object(s.root)
	if err != nil {
		return nil, err
	}
	header, err := s.ref(root, pidHeader)
	if err != nil || header == nil {
		return nil, errors.Join(formatErr("no AAF header object"), err)
	}
	content, err := s.ref(header, pidContent)
	if err != nil || content == nil {
		return nil, errors.Join(formatErr("no content storage"), err)
	}
	mobNodes, err := s.refs(content, pidMobs)
	if err != nil {
		return nil, err
	}
	var comps []*mob
	var names []string
	for _, n := range mobNodes {
		o, err := s.object(n)
		if err != nil {
			return nil, err
		}
		id, ok := o.mobID(pidMobID)
		if !ok {
			return nil, formatErr("mob %q has no MobID", n.name)
		}
		m := &mob{obj: o, id: id, name: o.string(pidMobName)}
		rd.mobs[id] = m
		if o.classIs(classCompositionMob) {
			names = append(names, m.name)
			if opt.Sequence == "" || opt.Sequence == m.name {
				comps = append(comps, m)
			}
		}
	}
	if opt.Sequence != "" && len(comps) == 0 {
		sort.Strings(names)
		return nil, fmt.Errorf("%w %q; the AAF has %q", ErrNoSequence, opt.Sequence, names)
	}
	cut := &Cut{}
	index := map[MobID]int{}
	for _, c := range comps {
		cut.Compositions = append(cut.Compositions, c.name)
		ls, err := rd.mobLeaves(c, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("sequence %q: %w", c.name, err)
		}
		for _, l := range ls.order {
			key := l.fileMob
			if key.IsZero() {
				key = l.masterMob
			}
			i, seen := index[key]
			if !seen {
				i = len(cut.Media)
				index[key] = i
				md, err := rd.describe(l)
				if err != nil {
					return nil, err
				}
				cut.Media = append(cut.Media, md)
			}
			cut.Media[i].Uses = addUses(cut.Media[i].Uses, ls.uses[l])
		}
	}
	return cut, nil
}

// leaves are the media a slot or segment leads to, in the order first
// used, with how many source clips lead to each. They are kept as a set,
// not a list of every use, so sequences nested in sequences cost the
// number of media, not the product of the uses.
type leaves struct {
	order []leaf
	uses  map[leaf]int
}

func one(l leaf) *leaves { return &leaves{order: []leaf{l}, uses: map[leaf]int{l: 1}} }

// addUses adds counts, saturating: a hostile file nesting sequences deep
// must not overflow them.
func addUses(a, b int) int {
	if a > math.MaxInt32-b {
		return math.MaxInt32
	}
	return a + b
}

// merge adds src's media to dst. Every media merged counts against a
// budget, so a file built to make the walk explode ends in an error.
func (rd *reader) merge(dst, src *leaves) error {
	for _, l := range src.order {
		if rd.work++; rd.work > maxWork {
			return formatErr("references more media than an AAF cut can (%d merges)", maxWork)
		}
		if _, ok := dst.uses[l]; !ok {
			dst.order = append(dst.order, l)
		}
		dst.uses[l] = addUses(dst.uses[l], src.uses[l])
	}
	return nil
}

// mobLeaves returns the media that slot (all slots when nil) of m leads
// to.
func (rd *reader) mobLeaves(m *mob, slot *uint32, depth int) (*leaves, error) {
	if depth > maxDepth {
		return nil, formatErr("mobs nested more than %d deep", maxDepth)
	}
	if err := rd.loadSlots(m); err != nil {
		return nil, err
	}
	out := &leaves{uses: map[leaf]int{}}
	found := false
	for _, n := range m.slots {
		so, err := rd.s.object(n)
		if err != nil {
			return nil, err
		}
		id, _ := so.uint32(pidSlotID)
		if slot != nil && id != *slot {
			continue
		}
		found = true
		seg, err := rd.s.ref(so, pidSlotSegment)
		if err != nil {
			return nil, err
		}
		if seg == nil {
			continue
		}
		l, err := rd.segmentLeaves(m, seg, depth+1)
		if err != nil {
			return nil, err
		}
		if err := rd.merge(out, l); err != nil {
			return nil, err
		}
	}
	if slot != nil && !found && len(m.slots) > 0 {
		// A reference to a slot the mob lacks: the whole mob is the best
		// statement of what is needed.
		return rd.mobLeaves(m, nil, depth+1)
	}
	return out, nil
}

// segmentLeaves walks a segment of mob m: sequences, effects, transitions,
// selectors and nested scopes down to source clips.
func (rd *reader) segmentLeaves(m *mob, seg *object, depth int) (*leaves, error) {
	if depth > maxDepth {
		return nil, formatErr("segments nested more than %d deep", maxDepth)
	}
	if seg.has(pidSourceID) {
		return rd.clipLeaves(m, seg, depth)
	}
	var children []*object
	for _, pid := range []uint16{pidComponents, pidInputSegments, pidChoices, pidNestedSlots} {
		ns, err := rd.s.refs(seg, pid)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			o, err := rd.s.object(n)
			if err != nil {
				return nil, err
			}
			if pid == pidNestedSlots {
				// a nested scope's slots hold their segments
				if o, err = rd.s.ref(o, pidSlotSegment); err != nil {
					return nil, err
				}
			}
			if o != nil {
				children = append(children, o)
			}
		}
	}
	for _, pid := range []uint16{pidTransitionOp, pidSelected} {
		o, err := rd.s.ref(seg, pid)
		if err != nil {
			return nil, err
		}
		if o != nil {
			children = append(children, o)
		}
	}
	out := &leaves{uses: map[leaf]int{}}
	for _, c := range children {
		l, err := rd.segmentLeaves(m, c, depth+1)
		if err != nil {
			return nil, err
		}
		if err := rd.merge(out, l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// clipLeaves follows a source clip in mob m to the file media it uses.
func (rd *reader) clipLeaves(from *mob, clip *object, depth int) (*leaves, error) {
	id, ok := clip.mobID(pidSourceID)
	if !ok {
		return nil, formatErr("source clip %q has a malformed SourceID", clip.n.name)
	}
	none := &leaves{uses: map[leaf]int{}}
	if id.IsZero() {
		return none, nil // end of the chain: original media
	}
	slot, _ := clip.uint32(pidSourceSlotID)
	target := rd.mobs[id]
	if target == nil {
		if from.obj.classIs(classMasterMob) {
			// a master mob whose file mob is not in the AAF
			return one(leaf{fileMob: id, masterMob: from.id}), nil
		}
		return one(leaf{masterMob: id}), nil
	}
	if target.obj.classIs(classSourceMob) {
		if rd.isPhysical(target) {
			if from.obj.classIs(classCompositionMob) {
				// a cut referring to tape directly: no file to name
				return one(leaf{masterMob: id}), nil
			}
			return none, nil
		}
		l := leaf{fileMob: id, resolved: true}
		if from.obj.classIs(classMasterMob) {
			l.masterMob = from.id
		}
		return one(l), nil
	}
	key := slotKey{id, slot}
	if l, done := rd.memo[key]; done {
		return l, nil
	}
	if rd.inProgress[key] {
		return nil, formatErr("mob %q refers to itself", target.name)
	}
	rd.inProgress[key] = true
	l, err := rd.mobLeaves(target, &slot, depth+1)
	delete(rd.inProgress, key)
	if err != nil {
		return nil, err
	}
	rd.memo[key] = l
	return l, nil
}

// loadSlots reads the list of m's slots once.
func (rd *reader) loadSlots(m *mob) error {
	if m.slots != nil {
		return nil
	}
	ns, err := rd.s.refs(m.obj, pidMobSlots)
	if err != nil {
		return err
	}
	m.slots = ns
	if m.slots == nil {
		m.slots = []*node{}
	}
	return nil
}

func (rd *reader) descriptor(m *mob) (*object, error) {
	return rd.s.ref(m.obj, pidEssenceDesc)
}

func (rd *reader) isPhysical(m *mob) bool {
	d, err := rd.descriptor(m)
	if err != nil || d == nil {
		return false
	}
	for _, c := range physicalDescriptors {
		if d.classIs(c) {
			return true
		}
	}
	return false
}

// describe fills in names for a leaf: the master mob's name, the file mob's
// locator and the tape or import source behind it.
func (rd *reader) describe(l leaf) (Media, error) {
	md := Media{FileMob: l.fileMob.UMID(), MasterMob: l.masterMob.UMID(), Resolved: l.resolved}
	if l.fileMob.IsZero() {
		md.FileMob = mxf.UMID{}
	}
	if l.masterMob.IsZero() {
		md.MasterMob = mxf.UMID{}
	}
	if m := rd.mobs[l.masterMob]; m != nil {
		md.Name = m.name
	}
	fm := rd.mobs[l.fileMob]
	if fm == nil {
		return md, nil
	}
	if md.Name == "" {
		md.Name = fm.name
	}
	if d, err := rd.descriptor(fm); err == nil && d != nil {
		locs, err := rd.s.refs(d, pidLocators)
		if err != nil {
			return md, err
		}
		for _, n := range locs {
			o, err := rd.s.object(n)
			if err != nil {
				return md, err
			}
			if u := o.string(pidURLString); u != "" {
				md.URL = u
				break
			}
		}
	}
	// The tape: what the file mob's first slot's source clip points at.
	if err := rd.loadSlots(fm); err != nil {
		return md, err
	}
	for _, n := range fm.slots {
		so, err := rd.s.object(n)
		if err != nil {
			return md, err
		}
		seg, err := rd.s.ref(so, pidSlotSegment)
		if err != nil || seg == nil {
			continue
		}
		if id, ok := seg.mobID(pidSourceID); ok {
			if t := rd.mobs[id]; t != nil && t != fm {
				md.Tape = t.name
				break
			}
		}
	}
	return md, nil
}
