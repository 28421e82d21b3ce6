// Package treepath owns editkit's notion of a path inside a tree (a drive, a
// source folder, a snapshot, a catalog): '/'-separated, relative, clean, and
// ordered the way filepath.WalkDir visits a tree. Every path that comes from
// outside (a manifest, a hub entry, an MHL file) goes through Validate before
// it is joined to a directory, so "../x" can never escape the place the user named.
package treepath

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Compare orders two tree paths component by component, comparing each
// component's bytes. This is the order in which filepath.WalkDir visits files
// (a folder's entries sorted by name, a folder's contents right after it), so
// a sorted manifest can be merge-joined with a walk of the tree. It differs
// from plain string order: "a/b" < "a b" here, because "a" < "a b".
func Compare(a, b string) int {
	for {
		ai := strings.IndexByte(a, '/')
		bi := strings.IndexByte(b, '/')
		ac, bc := a, b
		if ai >= 0 {
			ac = a[:ai]
		}
		if bi >= 0 {
			bc = b[:bi]
		}
		if c := strings.Compare(ac, bc); c != 0 {
			return c
		}
		switch {
		case ai < 0 && bi < 0:
			return 0
		case ai < 0:
			return -1 // a is a parent of b
		case bi < 0:
			return 1
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// Less reports whether a sorts before b in tree order.
func Less(a, b string) bool { return Compare(a, b) < 0 }

// ErrUnsafe is wrapped by every error Validate returns.
var ErrUnsafe = errors.New("unsafe path")

// Validate checks that p is a clean relative tree path: not empty, not
// absolute, no "." or ".." components, no empty components, no backslashes
// (a Windows separator smuggled into a name), no NUL bytes, valid UTF-8.
func Validate(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty path", ErrUnsafe)
	case !utf8.ValidString(p):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrUnsafe, p)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: %q is absolute", ErrUnsafe, p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: %q contains a NUL byte", ErrUnsafe, p)
	case strings.ContainsRune(p, '\\'):
		return fmt.Errorf("%w: %q contains a backslash", ErrUnsafe, p)
	case len(p) >= 2 && p[1] == ':':
		return fmt.Errorf("%w: %q starts with a drive letter", ErrUnsafe, p)
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "":
			return fmt.Errorf("%w: %q has an empty component", ErrUnsafe, p)
		case ".", "..":
			return fmt.Errorf("%w: %q has a %q component", ErrUnsafe, p, c)
		}
	}
	return nil
}

// Join validates rel and joins it to root with the OS separator. The result
// is always inside root.
func Join(root, rel string) (string, error) {
	if err := Validate(rel); err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}

// Parent returns the folder part of p ("" for a top-level entry).
func Parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Base returns the last component of p.
func Base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
