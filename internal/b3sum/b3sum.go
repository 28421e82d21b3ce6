// Package b3sum owns the checksum-list format of the b3sum tool (the same as
// coreutils' sha256sum): "HEX  PATH" lines, with the escaping b3sum uses for
// names holding a backslash or a newline. A drive carries such a list so it
// can be checked with `b3sum --check` where editkit is not installed.
package b3sum

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"strings"
)

// Line is one entry of a list.
type Line struct {
	Digest [32]byte
	Path   string
}

// Writer writes a checksum list.
type Writer struct{ w *bufio.Writer }

// NewWriter returns a Writer on w; call Flush at the end.
func NewWriter(w io.Writer) *Writer { return &Writer{bufio.NewWriterSize(w, 64<<10)} }

var escaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)

// Write adds one line. Paths holding a backslash, a newline or a carriage
// return are escaped and the line starts with a backslash, as b3sum does
// (older b3sum releases left a carriage return as it is, but then a reader
// cannot tell "name\r" from a list saved with CRLF line ends).
func (w *Writer) Write(digest [32]byte, path string) error {
	var b [64]byte
	hex.Encode(b[:], digest[:])
	if strings.ContainsAny(path, "\\\n\r") {
		w.w.WriteByte('\\')
		path = escaper.Replace(path)
	}
	w.w.Write(b[:])
	w.w.WriteString("  ")
	w.w.WriteString(path)
	return w.w.WriteByte('\n')
}

// Flush writes buffered lines out.
func (w *Writer) Flush() error { return w.w.Flush() }

// Parse reads a checksum list, yielding its lines; a malformed line is an
// error naming its number.
func Parse(r io.Reader) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			text := strings.TrimSuffix(sc.Text(), "\r")
			if text == "" {
				continue
			}
			escaped := strings.HasPrefix(text, `\`)
			if escaped {
				text = text[1:]
			}
			hexPart, path, ok := strings.Cut(text, "  ")
			if !ok {
				// b3sum also accepts "HEX *PATH" (binary mode marker).
				hexPart, path, ok = strings.Cut(text, " *")
			}
			var l Line
			if !ok || len(hexPart) != 64 {
				yield(Line{}, fmt.Errorf("line %d: not \"<64 hex digits>  <path>\"", n))
				return
			}
			if _, err := hex.Decode(l.Digest[:], []byte(hexPart)); err != nil {
				yield(Line{}, fmt.Errorf("line %d: %w", n, err))
				return
			}
			if escaped {
				var err error
				if path, err = unescape(path); err != nil {
					yield(Line{}, fmt.Errorf("line %d: %w", n, err))
					return
				}
			}
			l.Path = path
			if !yield(l, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Line{}, err)
		}
	}
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", fmt.Errorf("dangling backslash in %q", s)
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c in %q", s[i], s)
		}
	}
	return b.String(), nil
}
