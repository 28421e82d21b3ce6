package mhl

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/treepath"
)

// The XML shapes below are decoded one <hash> or <directoryhash> at a time,
// never the whole document, so a generation with a million files is read in
// constant memory.

type xHashValue struct {
	XMLName  xml.Name
	Action   string `xml:"action,attr"`
	HashDate string `xml:"hashdate,attr"`
	Value    string `xml:",chardata"`
}

type xContainer struct {
	Values []xHashValue `xml:",any"`
}

type xPath struct {
	Size    string `xml:"size,attr"`
	LastMod string `xml:"lastmodificationdate,attr"`
	Value   string `xml:",chardata"`
}

type xHash struct {
	Path         *xPath       `xml:"path"`
	PreviousPath *string      `xml:"previousPath"`
	Values       []xHashValue `xml:",any"` // hash formats; metadata is skipped
}

type xDirHash struct {
	Path      *xPath      `xml:"path"`
	Content   *xContainer `xml:"content"`
	Structure *xContainer `xml:"structure"`
}

type xCreator struct {
	CreationDate string `xml:"creationdate"`
	Hostname     string `xml:"hostname"`
	Tool         struct {
		Version string `xml:"version,attr"`
		Name    string `xml:",chardata"`
	} `xml:"tool"`
	Authors []struct {
		Name string `xml:",chardata"`
	} `xml:"author"`
	Location string `xml:"location"`
	Comment  string `xml:"comment"`
}

type xProcess struct {
	Process  string `xml:"process"`
	RootHash *struct {
		Content   *xContainer `xml:"content"`
		Structure *xContainer `xml:"structure"`
	} `xml:"roothash"`
	Ignore *struct {
		Patterns []string `xml:"pattern"`
	} `xml:"ignore"`
}

type xReferences struct {
	Refs []struct {
		Path string `xml:"path"`
		C4   string `xml:"c4"`
	} `xml:"hashlistreference"`
}

// genHeader is everything in a generation file except its hashes.
type genHeader struct {
	Created     time.Time
	Host        string
	Tool        string
	ToolVersion string
	Author      string // the first author's name
	Location    string
	Comment     string
	Process     string
	Root        []DirHash
	Ignore      []string
	Refs        []reference
}

// reference is a <hashlistreference>: a generation of a nested history,
// by its path relative to the referencing history's root.
type reference struct {
	Path string
	C4   string
}

// fileRec is one <hash> element.
type fileRec struct {
	Path    string
	Size    int64 // -1: not recorded (the reference tool leaves it out for empty files)
	ModTime time.Time
	Hashes  []Hash // schema order
	// PreviousPath is the file's path before it was renamed, if this
	// generation recorded a rename (spec 5.3.3, the reference tool's
	// create -dr).
	PreviousPath string
}

// dirRec is one <directoryhash> element.
type dirRec struct {
	Path    string
	ModTime time.Time
	Hashes  []DirHash
}

type parseOpts struct {
	onFile     func(*fileRec) error
	onDir      func(*dirRec) error
	headerOnly bool // stop after <processinfo>
}

// parseGeneration reads a generation file. Hashes are handed to the
// callbacks one at a time; the header is returned. Errors do not name the
// file: callers wrap them.
func parseGeneration(r io.Reader, opts parseOpts) (*genHeader, error) {
	d := xml.NewDecoder(r)
	root, err := rootElement(d, "hashlist", nsHashList)
	if err != nil {
		return nil, err
	}
	if v := attr(root, "version"); v != "2.0" {
		return nil, fmt.Errorf("unsupported hashlist version %q (want 2.0)", v)
	}
	var h genHeader
	var sawCreator, sawProcess bool
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.EndElement: // </hashlist>
			if !sawCreator || !sawProcess {
				return nil, errors.New("hashlist has no <creatorinfo> or no <processinfo>")
			}
			return &h, trailing(d)
		case xml.StartElement:
			switch t.Name.Local {
			case "creatorinfo":
				sawCreator = true
				if err := h.decodeCreator(d, &t); err != nil {
					return nil, err
				}
			case "processinfo":
				sawProcess = true
				if err := h.decodeProcess(d, &t); err != nil {
					return nil, err
				}
				if opts.headerOnly {
					return &h, nil
				}
			case "hashes":
				if err := decodeHashes(d, opts); err != nil {
					return nil, err
				}
			case "references":
				var x xReferences
				if err := d.DecodeElement(&x, &t); err != nil {
					return nil, unexpectedEOF(err)
				}
				for _, ref := range x.Refs {
					p := trimLayout(ref.Path)
					if err := treepath.Validate(p); err != nil {
						return nil, fmt.Errorf("<hashlistreference>: %w", err)
					}
					c4 := strings.TrimSpace(ref.C4)
					if _, err := decodeC4(c4); err != nil {
						return nil, fmt.Errorf("<hashlistreference> %q: %w", p, err)
					}
					h.Refs = append(h.Refs, reference{Path: p, C4: c4})
				}
			default: // <metadata> and anything a newer schema adds
				if err := d.Skip(); err != nil {
					return nil, unexpectedEOF(err)
				}
			}
		}
	}
}

func (h *genHeader) decodeCreator(d *xml.Decoder, start *xml.StartElement) error {
	var x xCreator
	if err := d.DecodeElement(&x, start); err != nil {
		return unexpectedEOF(err)
	}
	t, err := parseDate(strings.TrimSpace(x.CreationDate))
	if err != nil {
		return fmt.Errorf("<creationdate>: %w", err)
	}
	h.Created = t
	h.Host = strings.TrimSpace(x.Hostname)
	h.Tool = strings.TrimSpace(x.Tool.Name)
	h.ToolVersion = x.Tool.Version
	if len(x.Authors) > 0 {
		h.Author = strings.TrimSpace(x.Authors[0].Name)
	}
	h.Location, h.Comment = x.Location, x.Comment
	return nil
}

func (h *genHeader) decodeProcess(d *xml.Decoder, start *xml.StartElement) error {
	var x xProcess
	if err := d.DecodeElement(&x, start); err != nil {
		return unexpectedEOF(err)
	}
	h.Process = strings.TrimSpace(x.Process)
	if x.RootHash != nil {
		root, err := dirHashes(x.RootHash.Content, x.RootHash.Structure)
		if err != nil {
			return fmt.Errorf("<roothash>: %w", err)
		}
		h.Root = root
	}
	if x.Ignore != nil {
		h.Ignore = x.Ignore.Patterns
	}
	return nil
}

func decodeHashes(d *xml.Decoder, opts parseOpts) error {
	var fr fileRec
	var dr dirRec
	for {
		tok, err := d.Token()
		if err != nil {
			return unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.EndElement: // </hashes>
			return nil
		case xml.StartElement:
			switch t.Name.Local {
			case "hash":
				var x xHash
				if err := d.DecodeElement(&x, &t); err != nil {
					return unexpectedEOF(err)
				}
				if err := fr.fill(&x); err != nil {
					return err
				}
				if opts.onFile != nil {
					if err := opts.onFile(&fr); err != nil {
						return err
					}
				}
			case "directoryhash":
				var x xDirHash
				if err := d.DecodeElement(&x, &t); err != nil {
					return unexpectedEOF(err)
				}
				if err := dr.fill(&x); err != nil {
					return err
				}
				if opts.onDir != nil {
					if err := opts.onDir(&dr); err != nil {
						return err
					}
				}
			default:
				if err := d.Skip(); err != nil {
					return unexpectedEOF(err)
				}
			}
		}
	}
}

// fill replaces r's contents with x's; r is reused between elements.
func (r *fileRec) fill(x *xHash) error {
	p, mod, err := readPath(x.Path, "hash")
	if err != nil {
		return err
	}
	*r = fileRec{Path: p, Size: -1, ModTime: mod}
	if x.PreviousPath != nil {
		prev := trimLayout(*x.PreviousPath)
		if err := treepath.Validate(prev); err != nil {
			return fmt.Errorf("<hash> %q: <previousPath>: %w", p, err)
		}
		r.PreviousPath = prev
	}
	if s := x.Path.Size; s != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("<hash> %q: bad size %q", p, s)
		}
		r.Size = n
	}
	for _, v := range x.Values {
		f := Format(v.XMLName.Local)
		if !f.Valid() {
			continue
		}
		digest, _, err := decodeDigest(f, strings.TrimSpace(v.Value))
		if err != nil {
			return fmt.Errorf("<hash> %q: %w", p, err)
		}
		h := Hash{Format: f, Digest: digest, Action: Action(v.Action)}
		if h.Action != "" && !h.Action.valid() {
			return fmt.Errorf("<hash> %q: unknown action %q", p, v.Action)
		}
		if v.HashDate != "" {
			if h.HashDate, err = parseDate(v.HashDate); err != nil {
				return fmt.Errorf("<hash> %q: hashdate: %w", p, err)
			}
		}
		for _, o := range r.Hashes {
			if o.Format == f {
				return fmt.Errorf("<hash> %q: two %s hashes", p, f)
			}
		}
		r.Hashes = append(r.Hashes, h)
	}
	if len(r.Hashes) == 0 {
		return fmt.Errorf("<hash> %q: no hash in a known format", p)
	}
	return nil
}

func (r *dirRec) fill(x *xDirHash) error {
	p, mod, err := readPath(x.Path, "directoryhash")
	if err != nil {
		return err
	}
	hashes, err := dirHashes(x.Content, x.Structure)
	if err != nil {
		return fmt.Errorf("<directoryhash> %q: %w", p, err)
	}
	*r = dirRec{Path: p, ModTime: mod, Hashes: hashes}
	return nil
}

func readPath(x *xPath, elem string) (string, time.Time, error) {
	if x == nil {
		return "", time.Time{}, fmt.Errorf("<%s> without <path>", elem)
	}
	p := x.Value
	if err := treepath.Validate(p); err != nil {
		return "", time.Time{}, fmt.Errorf("<%s>: %w", elem, err)
	}
	var mod time.Time
	if x.LastMod != "" {
		var err error
		if mod, err = parseDate(x.LastMod); err != nil {
			return "", time.Time{}, fmt.Errorf("<%s> %q: lastmodificationdate: %w", elem, p, err)
		}
	}
	return p, mod, nil
}

// dirHashes pairs the formats of a <content> with those of a <structure>.
func dirHashes(content, structure *xContainer) ([]DirHash, error) {
	if content == nil || structure == nil {
		return nil, errors.New("want both <content> and <structure>")
	}
	var out []DirHash
	for _, c := range content.Values {
		f := Format(c.XMLName.Local)
		if !f.Valid() {
			continue
		}
		dh := DirHash{Format: f}
		var err error
		if dh.Content, _, err = decodeDigest(f, strings.TrimSpace(c.Value)); err != nil {
			return nil, err
		}
		if c.HashDate != "" {
			if dh.HashDate, err = parseDate(c.HashDate); err != nil {
				return nil, fmt.Errorf("hashdate: %w", err)
			}
		}
		for _, s := range structure.Values {
			if s.XMLName.Local == string(f) {
				if dh.Structure, _, err = decodeDigest(f, strings.TrimSpace(s.Value)); err != nil {
					return nil, err
				}
			}
		}
		if dh.Structure == "" {
			return nil, fmt.Errorf("%s content hash without a structure hash", f)
		}
		out = append(out, dh)
	}
	return out, nil
}

// chainEntry is one <hashlist> of ascmhl_chain.xml.
type chainEntry struct {
	Seq  int
	File string // file name inside the ascmhl folder
	C4   string
}

func parseChain(r io.Reader) ([]chainEntry, error) {
	d := xml.NewDecoder(r)
	if _, err := rootElement(d, "ascmhldirectory", nsDirectory); err != nil {
		return nil, err
	}
	var out []chainEntry
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return out, trailing(d)
		case xml.StartElement:
			if t.Name.Local != "hashlist" {
				if err := d.Skip(); err != nil {
					return nil, unexpectedEOF(err)
				}
				continue
			}
			var x struct {
				Seq  string `xml:"sequencenr,attr"`
				Path string `xml:"path"`
				C4   string `xml:"c4"`
			}
			if err := d.DecodeElement(&x, &t); err != nil {
				return nil, unexpectedEOF(err)
			}
			e := chainEntry{File: trimLayout(x.Path), C4: strings.TrimSpace(x.C4)}
			if e.Seq, err = strconv.Atoi(strings.TrimSpace(x.Seq)); err != nil || e.Seq < 1 {
				return nil, fmt.Errorf("<hashlist> %q: bad sequencenr %q", e.File, x.Seq)
			}
			if err := treepath.Validate(e.File); err != nil {
				return nil, fmt.Errorf("<hashlist sequencenr=\"%d\">: %w", e.Seq, err)
			}
			if strings.Contains(e.File, "/") {
				return nil, fmt.Errorf("<hashlist sequencenr=\"%d\">: %q is not a file name", e.Seq, e.File)
			}
			if _, err := decodeC4(e.C4); err != nil {
				return nil, fmt.Errorf("<hashlist sequencenr=\"%d\">: %w", e.Seq, err)
			}
			out = append(out, e)
		}
	}
}

// rootElement reads up to the document element and checks its name. The
// namespace may be missing (a sloppy writer) but not a different one.
func rootElement(d *xml.Decoder, local, ns string) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return xml.StartElement{}, fmt.Errorf("no <%s> element", local)
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		if t, ok := tok.(xml.StartElement); ok {
			if t.Name.Local != local || (t.Name.Space != ns && t.Name.Space != "") {
				return t, fmt.Errorf("document element is <%s xmlns=%q>, want <%s xmlns=%q>",
					t.Name.Local, t.Name.Space, local, ns)
			}
			return t, nil
		}
	}
}

// trailing checks that nothing but comments and whitespace follow the
// document element.
func trailing(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return fmt.Errorf("second document element <%s>", t.Name.Local)
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) > 0 {
				return errors.New("text after the document element")
			}
		}
	}
}

// trimLayout removes the whitespace a pretty-printing writer puts around
// an element's text (a line end and indentation), and only that: a path
// may itself start with a space (a folder named " Card"), which
// strings.TrimSpace would take away, naming a different folder.
func trimLayout(s string) string {
	if t := strings.TrimLeft(s, " \t\r\n"); strings.ContainsAny(s[:len(s)-len(t)], "\r\n") {
		s = t
	}
	if t := strings.TrimRight(s, " \t\r\n"); strings.ContainsAny(s[len(t):], "\r\n") {
		s = t
	}
	return s
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// unexpectedEOF makes a clean EOF inside the document an error: a
// truncated file must never read as a shorter valid one.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
