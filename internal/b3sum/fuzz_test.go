package b3sum

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

// FuzzParse reads arbitrary bytes as a checksum list (a drive's
// .editkit/checksums.b3sum, or any list given to verify --b3sum). It never
// panics; every line it yields, written again, reads back as itself.
func FuzzParse(f *testing.F) {
	sum := fmt.Sprintf("%x", blake3.Sum256([]byte("x")))
	f.Add([]byte(sum + "  plain.mxf\n" + sum + " *binary.wav\n\\" + sum + "  back\\\\slash\\nline\\r\n"))
	f.Add([]byte(sum + "  crlf.mxf\r\n\r\n"))
	f.Add([]byte("\\" + sum + "  dangling\\"))
	f.Add([]byte("\\" + sum + "  bad\\q\n"))
	f.Add([]byte(strings.ToUpper(sum) + "  upper.mxf\n"))
	f.Add([]byte(sum + "  ../../etc/passwd\n" + sum + "  /abs\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var lines []Line
		for l, err := range Parse(bytes.NewReader(data)) {
			if err != nil {
				if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "too long") {
					t.Fatalf("error does not name the line: %v", err)
				}
				break
			}
			lines = append(lines, l)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, l := range lines {
			w.Write(l.Digest, l.Path)
		}
		w.Flush()
		i := 0
		for l, err := range Parse(&buf) {
			if err != nil {
				t.Fatalf("our own list does not parse: %v\n%q", err, buf.Bytes())
			}
			if i >= len(lines) || l != lines[i] {
				t.Fatalf("line %d read back as %+v, wrote %+v", i+1, l, lines[min(i, len(lines)-1)])
			}
			i++
		}
		if i != len(lines) {
			t.Fatalf("wrote %d lines, read back %d", len(lines), i)
		}
	})
}

// FuzzRoundTrip: any path and digest written to a list read back exactly,
// whatever bytes the name holds (newlines, backslashes, carriage returns).
func FuzzRoundTrip(f *testing.F) {
	f.Add("plain.mxf", []byte{1})
	f.Add("new\nline", []byte{2})
	f.Add(`back\slash`, []byte{3})
	f.Add("ends in cr\r", []byte{4})
	f.Add(" *starts with a star", []byte{5})
	f.Add("  two spaces", []byte{6})
	f.Fuzz(func(t *testing.T, path string, seed []byte) {
		if path == "" {
			return // a list never names nothing
		}
		d := blake3.Sum256(seed)
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Write(d, path)
		w.Flush()
		n := 0
		for l, err := range Parse(&buf) {
			if err != nil {
				if len(path) > 1<<19 {
					return // longer than a list line may be
				}
				t.Fatalf("%q: %v", buf.Bytes(), err)
			}
			if l.Path != path || l.Digest != d {
				t.Fatalf("wrote %q %x, read %q %x", path, d, l.Path, l.Digest)
			}
			n++
		}
		if n != 1 {
			t.Fatalf("wrote one line, read %d", n)
		}
	})
}
