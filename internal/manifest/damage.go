package manifest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrDamaged matches (with errors.Is) every error saying that a drive's
// manifest or journal cannot be read in full: a torn or flipped line, a
// missing header or trailer, a bad line in the middle of the journal, or a
// manifest that is gone while the drive says it had one.
var ErrDamaged = errors.New("damaged editkit manifest")

// ErrMissing matches (with errors.Is) a DamagedError for a manifest.ekm that
// is gone although the drive recorded files in it: there is nothing damaged
// to read, only nothing to read.
var ErrMissing = errors.New("manifest missing")

// RebuildCommand is the command that rebuilds a drive's manifest from its
// files; every message about a damaged manifest names it.
const RebuildCommand = "editkit verify --rebuild"

// DamagedError says which file of a drive's state is damaged, how, and
// what to do about it.
type DamagedError struct {
	Root string // the drive
	File string // the damaged file (manifest.ekm or journal.ekj), absolute
	What string // where: "header", "line 7", "trailer", "missing"…
	Err  error
}

func (e *DamagedError) Error() string {
	kind := "manifest"
	switch filepath.Base(e.File) {
	case journalFile:
		kind = "manifest journal"
	case infoFile:
		kind = "identity file"
	}
	what := e.What
	if e.Err != nil {
		what += ": " + e.Err.Error()
	}
	if e.What == "missing" {
		return fmt.Sprintf("the drive's %s %s is missing (%v); rebuild it from the files on the drive with `%s %s`",
			kind, e.File, e.Err, RebuildCommand, shellQuote(e.Root))
	}
	return fmt.Sprintf("the drive's %s %s is damaged (%s); rebuild it from the files on the drive with `%s %s` (the damaged file is kept aside, not deleted)",
		kind, e.File, what, RebuildCommand, shellQuote(e.Root))
}

// Unwrap lets errors.Is find ErrDamaged, ErrMissing and the cause.
func (e *DamagedError) Unwrap() []error {
	errs := []error{ErrDamaged}
	if e.What == "missing" {
		errs = append(errs, ErrMissing)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// damagedFile returns a DamagedError for a file under a drive's .editkit folder.
func damagedFile(path, what string, err error) error {
	return &DamagedError{Root: filepath.Dir(filepath.Dir(path)), File: path, What: what, Err: err}
}

// shellQuote quotes a path for a command line a user can paste.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
