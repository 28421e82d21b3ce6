// Package cut owns what a cut needs: it reads the media references of an
// Avid AAF (through internal/aaf), an OpenTimelineIO .otio file or a
// CMX 3600 EDL into one model, Needs, and matches them to indexed media —
// by UMID, by file name, or by tape/clip name and source timecode range —
// never dropping a reference it cannot match: those are listed as unknown.
package cut

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/editkit/editkit/internal/aaf"
	"github.com/editkit/editkit/internal/mxf"
)

// Needs is what a cut refers to.
type Needs struct {
	File      string   `json:"file"`
	Format    string   `json:"format"`              // "aaf", "otio", "edl"
	Sequences []string `json:"sequences,omitempty"` // the compositions or timelines read
	Refs      []Ref    `json:"refs"`
}

// Ref is one piece of media the cut uses, as the cut names it: by UMID (a
// file package, or any package when the cut does not say which), by URL, or
// by tape/clip name and source timecode range.
type Ref struct {
	// FilePackage is the MXF file (source) package UMID: an AAF's file
	// source mob.
	FilePackage mxf.UMID `json:"file_package,omitzero"`
	// Packages are UMIDs that may name a file or a material package (an
	// AAF master mob, an OTIO clip's AAF metadata), tried in order.
	Packages []mxf.UMID `json:"packages,omitempty"`
	Name     string     `json:"name,omitempty"` // clip name
	Tape     string     `json:"tape,omitempty"` // reel or tape name
	URL      string     `json:"url,omitempty"`
	Track    string     `json:"track,omitempty"` // EDL track: V, A, A2, AA, B…
	In       *TC        `json:"in,omitempty"`    // source range, [In, Out)
	Out      *TC        `json:"out,omitempty"`
	Uses     int        `json:"uses"`
}

// String names the reference for a person.
func (r Ref) String() string {
	var parts []string
	if r.Name != "" {
		parts = append(parts, fmt.Sprintf("clip %q", r.Name))
	}
	if r.Tape != "" {
		parts = append(parts, fmt.Sprintf("tape %q", r.Tape))
	}
	if r.In != nil && r.Out != nil {
		parts = append(parts, r.In.String()+"–"+r.Out.String())
	}
	if !r.FilePackage.IsZero() {
		parts = append(parts, "file package "+r.FilePackage.String())
	} else if len(r.Packages) > 0 {
		parts = append(parts, "package "+r.Packages[0].String())
	}
	if r.URL != "" {
		parts = append(parts, r.URL)
	}
	if len(parts) == 0 {
		return "an unnamed reference"
	}
	return strings.Join(parts, ", ")
}

// ErrFormat marks a cut file that cannot be read: damaged, or not one of
// the formats read here.
var ErrFormat = errors.New("cannot read the cut")

// Read reads the cut at path, telling its format from its content: a
// compound file is an AAF, JSON an OTIO timeline, anything else an EDL.
// sequence selects one composition or timeline by name; empty reads all.
func Read(file, sequence string) (*Needs, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrFormat, file)
	}
	head := make([]byte, 8)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	var nd *Needs
	switch {
	case bytes.HasPrefix(head, []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}):
		nd, err = readAAF(f, st.Size(), sequence)
	case len(bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")) > 0 && bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")[0] == '{':
		nd, err = readOTIO(f, st.Size(), sequence)
	default:
		if sequence != "" {
			return nil, fmt.Errorf("--sequence %q: an EDL holds one sequence", sequence)
		}
		nd, err = readEDL(f)
	}
	if err != nil {
		if errors.Is(err, aaf.ErrNoSequence) || errors.Is(err, errNoSequence) {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return nil, fmt.Errorf("%w %s: %v (a damaged or partial file? export it again)", ErrFormat, file, err)
	}
	nd.File = file
	return nd, nil
}

var errNoSequence = errors.New("no such timeline")

func readAAF(f *os.File, size int64, sequence string) (*Needs, error) {
	c, err := aaf.Read(f, size, aaf.Options{Sequence: sequence})
	if err != nil {
		return nil, err
	}
	nd := &Needs{Format: "aaf", Sequences: c.Compositions}
	for _, m := range c.Media {
		r := Ref{Name: m.Name, Tape: m.Tape, URL: m.URL, Uses: m.Uses}
		if m.Resolved {
			r.FilePackage = m.FileMob
		} else {
			for _, u := range []mxf.UMID{m.FileMob, m.MasterMob} {
				if !u.IsZero() {
					r.Packages = append(r.Packages, u)
				}
			}
		}
		nd.Refs = append(nd.Refs, r)
	}
	return nd, nil
}

// baseName is the last element of a path or URL, without its extension,
// lower-cased: how a file name is compared with a reel or a locator.
func baseName(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	b := path.Base(p)
	if i := strings.LastIndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	return strings.ToLower(b)
}
