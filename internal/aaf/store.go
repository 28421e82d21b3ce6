package aaf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/richardlehane/mscfb"
)

// Limits on what one object may make the reader hold. Real AAF objects are
// small: a properties stream is a few hundred bytes, an index a few bytes per
// element.
const (
	maxPropertiesStream = 1 << 20
	maxIndexStream      = 16 << 20
	maxDepth            = 200        // nesting of segments and mob references
	maxWork             = 20_000_000 // media merged while walking: bounds time and memory
)

// errFormat marks input that is not a readable AAF file.
var errFormat = errors.New("not a readable AAF file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errFormat, fmt.Sprintf(format, args...))
}

// Stored-object property formats (the structured-storage "SF_" codes).
const (
	sfData                = 0x82
	sfStrongRef           = 0x22
	sfStrongRefVector     = 0x32
	sfStrongRefSet        = 0x3A
	propertiesByteOrderLE = 0x4c
)

// node is one storage (an AAF object) of the compound file.
type node struct {
	file     *mscfb.File
	name     string
	class    string // CLSID as mscfb prints it: "{0D010101-0101-3500-...}"
	isDir    bool
	children map[string]*node
}

// store is the compound file's tree of storages and streams, built once
// from its directory; streams are read only when asked for.
type store struct {
	root *node
	size int64 // of the whole file: no stream can be longer
}

func openStore(ra io.ReaderAt, size int64) (*store, error) {
	doc, err := mscfb.New(&blockCache{r: ra, size: size, blocks: map[int64][]byte{}})
	if err != nil {
		return nil, formatErr("compound file: %v", err)
	}
	if len(doc.File) == 0 {
		return nil, formatErr("compound file has no root storage")
	}
	// mscfb lists entries depth first: a storage's children follow it,
	// before its next sibling. So the parent of an entry at depth d is the
	// last storage seen at depth d-1. The root storage is depth -1; its
	// children have an empty path.
	root := &node{file: doc.File[0], isDir: true, children: map[string]*node{}}
	stack := []*node{root}
	for _, f := range doc.File[1:] {
		d := len(f.Path)
		if d >= len(stack) {
			return nil, formatErr("compound file directory: %q is out of place", f.Name)
		}
		parent := stack[d]
		if d > 0 && parent.name != f.Path[d-1] {
			return nil, formatErr("compound file directory: %q is out of place", f.Name)
		}
		n := &node{file: f, name: f.Name, class: f.ID(), isDir: f.FileInfo().IsDir()}
		if _, dup := parent.children[n.name]; dup {
			return nil, formatErr("compound file directory: %q twice in one storage", f.Name)
		}
		parent.children[n.name] = n
		if n.isDir {
			n.children = map[string]*node{}
			stack = append(stack[:d+1], n)
		}
	}
	return &store{root: root, size: size}, nil
}

// Reading a cut means many small reads (a 4-byte FAT entry per sector, a
// 64-byte mini-sector, a 128-byte directory entry): blockCache serves them
// from 64 KiB blocks, at most 16 MiB at once, so it costs a few large reads
// rather than a system call per sector — and an AAF with embedded essence
// never has more than that in memory.
const (
	cacheBlock      = 64 << 10
	maxCachedBlocks = 256
)

type blockCache struct {
	r      io.ReaderAt
	size   int64
	blocks map[int64][]byte
}

func (c *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size {
			return n, io.EOF
		}
		bi := pos / cacheBlock
		b, ok := c.blocks[bi]
		if !ok {
			if len(c.blocks) >= maxCachedBlocks {
				clear(c.blocks)
			}
			start := bi * cacheBlock
			b = make([]byte, min(cacheBlock, c.size-start))
			m, err := c.r.ReadAt(b, start)
			if m < len(b) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			c.blocks[bi] = b
		}
		n += copy(p[n:], b[pos-bi*cacheBlock:])
	}
	return n, nil
}

// readStream reads the whole stream name in storage n, refusing one longer
// than limit.
func (s *store) readStream(n *node, name string, limit int64) ([]byte, error) {
	c := n.children[name]
	if c == nil || c.isDir {
		return nil, formatErr("stream %q missing", name)
	}
	size := c.file.Size
	if size < 0 || size > limit || size > s.size {
		return nil, formatErr("stream %q is %d bytes, more than an AAF object can hold", name, size)
	}
	buf := make([]byte, size)
	if size == 0 {
		return buf, nil
	}
	if _, err := c.file.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, formatErr("stream %q: %v", name, err)
	}
	return buf, nil
}

// object is one AAF object: its storage and decoded property table.
type object struct {
	n     *node
	props map[uint16]property
}

type property struct {
	format uint16
	data   []byte
}

func (s *store) object(n *node) (*object, error) {
	if n == nil || !n.isDir {
		return nil, formatErr("object storage missing")
	}
	b, err := s.readStream(n, "properties", maxPropertiesStream)
	if err != nil {
		return nil, err
	}
	if len(b) < 4 {
		return nil, formatErr("properties of %q too short", n.name)
	}
	if b[0] != propertiesByteOrderLE {
		return nil, formatErr("properties of %q: byte order %#x not supported", n.name, b[0])
	}
	count := int(binary.LittleEndian.Uint16(b[2:4]))
	table := b[4:]
	if len(table) < 6*count {
		return nil, formatErr("properties of %q: table of %d entries truncated", n.name, count)
	}
	data := table[6*count:]
	o := &object{n: n, props: make(map[uint16]property, count)}
	for i := 0; i < count; i++ {
		e := table[6*i:]
		pid := binary.LittleEndian.Uint16(e[0:2])
		format := binary.LittleEndian.Uint16(e[2:4])
		size := int(binary.LittleEndian.Uint16(e[4:6]))
		if size > len(data) {
			return nil, formatErr("properties of %q: property %#04x truncated", n.name, pid)
		}
		o.props[pid] = property{format: format, data: data[:size:size]}
		data = data[size:]
	}
	return o, nil
}

func (o *object) has(pid uint16) bool { _, ok := o.props[pid]; return ok }

func (o *object) data(pid uint16, size int) ([]byte, bool) {
	p, ok := o.props[pid]
	if !ok || p.format != sfData || len(p.data) != size {
		return nil, false
	}
	return p.data, true
}

func (o *object) uint32(pid uint16) (uint32, bool) {
	b, ok := o.data(pid, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

func (o *object) int64(pid uint16) (int64, bool) {
	b, ok := o.data(pid, 8)
	if !ok {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(b)), true
}

func (o *object) mobID(pid uint16) (MobID, bool) {
	var m MobID
	b, ok := o.data(pid, len(m))
	if ok {
		copy(m[:], b)
	}
	return m, ok
}

// string decodes a UTF-16LE, NUL-terminated string property.
func (o *object) string(pid uint16) string {
	p, ok := o.props[pid]
	if !ok || p.format != sfData {
		return ""
	}
	return utf16String(p.data)
}

func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// ref follows a strong reference to its object; nil, nil if absent.
func (s *store) ref(o *object, pid uint16) (*object, error) {
	p, ok := o.props[pid]
	if !ok {
		return nil, nil
	}
	if p.format != sfStrongRef {
		return nil, formatErr("property %#04x of %q is not an object reference", pid, o.n.name)
	}
	name := utf16String(p.data)
	c := o.n.children[name]
	if c == nil {
		return nil, formatErr("object %q referenced by %q missing", name, o.n.name)
	}
	return s.object(c)
}

// refs returns the storages of a strong reference vector or set, in order;
// nil if the property is absent.
func (s *store) refs(o *object, pid uint16) ([]*node, error) {
	p, ok := o.props[pid]
	if !ok {
		return nil, nil
	}
	if p.format != sfStrongRefVector && p.format != sfStrongRefSet {
		return nil, formatErr("property %#04x of %q is not a list of objects", pid, o.n.name)
	}
	name := utf16String(p.data)
	idx, err := s.readStream(o.n, name+" index", maxIndexStream)
	if err != nil {
		return nil, err
	}
	if len(idx) < 12 {
		return nil, formatErr("index %q of %q too short", name, o.n.name)
	}
	count := int64(binary.LittleEndian.Uint32(idx[0:4]))
	entry, body := int64(4), idx[12:]
	if p.format == sfStrongRefSet {
		if len(body) < 3 {
			return nil, formatErr("index %q of %q too short", name, o.n.name)
		}
		keySize := int64(body[2])
		if keySize != 16 && keySize != 32 {
			return nil, formatErr("index %q of %q: key size %d", name, o.n.name, keySize)
		}
		entry, body = 8+keySize, body[3:]
	}
	if count*entry > int64(len(body)) {
		return nil, formatErr("index %q of %q: %d entries truncated", name, o.n.name, count)
	}
	out := make([]*node, 0, count)
	for i := int64(0); i < count; i++ {
		key := binary.LittleEndian.Uint32(body[i*entry:])
		child := name + "{" + fmt.Sprintf("%x", key) + "}"
		c := o.n.children[child]
		if c == nil || !c.isDir {
			return nil, formatErr("object %q listed in %q missing", child, o.n.name)
		}
		out = append(out, c)
	}
	return out, nil
}

// classIs reports whether an object's stored class is the AAF class with
// the given byte in the standard class label 0d010101-0101-XX00-….
func (o *object) classIs(code string) bool {
	c := o.n.class
	return len(c) == 38 && strings.EqualFold(c[1:15], "0D010101-0101-") && strings.EqualFold(c[15:17], code) &&
		strings.EqualFold(c[17:], "00-060E-2B3402060101}")
}
