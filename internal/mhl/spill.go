package mhl

import (
	"io"
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/place"
)

// spillThreshold is how many bytes of pending <hash> elements a history
// keeps in memory before it moves them to a temporary file.
const spillThreshold = 4 << 20

// spill is a byte stack that moves to a temporary file when it grows.
//
// The reference tool lists a folder's files after everything inside its
// sub-folders, but entries arrive in tree order, where a folder's files and
// sub-folders interleave by name. So each open folder's listed files wait
// here until the folder closes. Because folders close in stack order, the
// waiting elements of the innermost open folder are always the tail of the
// stack: a folder remembers the length when it opened and, when it closes,
// pops everything after that mark. A huge flat folder therefore costs disk,
// not memory.
type spill struct {
	root  *place.Root
	dir   string     // where the temporary file goes: a history folder under root
	d     *place.Dir // dir, open while f is
	f     *os.File   // holds bytes [0, fsize); nil until needed
	fsize int64
	mem   []byte // holds bytes [fsize, fsize+len(mem))
}

func (s *spill) len() int64 { return s.fsize + int64(len(s.mem)) }

func (s *spill) push(p []byte) error {
	s.mem = append(s.mem, p...)
	if len(s.mem) < spillThreshold {
		return nil
	}
	if s.f == nil {
		d, err := s.root.OpenDir(s.dir, false)
		if err != nil {
			return err
		}
		f, err := d.CreateExclusive(".editkit-mhl-"+fsx.RandomID(8)+".spill", 0o600)
		if err != nil {
			d.Close()
			return err
		}
		s.d, s.f = d, f
	}
	if _, err := s.f.WriteAt(s.mem, s.fsize); err != nil {
		return err
	}
	s.fsize += int64(len(s.mem))
	s.mem = s.mem[:0]
	return nil
}

// popTo writes the bytes from mark to the end to w and drops them.
func (s *spill) popTo(w io.Writer, mark int64) error {
	if mark < s.fsize {
		if _, err := io.Copy(w, io.NewSectionReader(s.f, mark, s.fsize-mark)); err != nil {
			return err
		}
		if _, err := w.Write(s.mem); err != nil {
			return err
		}
		s.fsize, s.mem = mark, s.mem[:0]
		return nil
	}
	i := int(mark - s.fsize)
	if _, err := w.Write(s.mem[i:]); err != nil {
		return err
	}
	s.mem = s.mem[:i]
	return nil
}

// close removes the temporary file, if any.
func (s *spill) close() {
	if s.f != nil {
		s.f.Close()
		s.d.Remove(filepath.Base(s.f.Name()))
		s.d.Close()
		s.f, s.d = nil, nil
	}
}
