package mhl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/treepath"
)

// FuzzParse feeds arbitrary bytes to the generation and chain parsers:
// they must return an error or validated paths, never panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*/ascmhl/*")
	more, _ := filepath.Glob("testdata/*/*/*/ascmhl/*")
	ex, _ := filepath.Glob(refDir + "/examples/*")
	for _, p := range append(append(seeds, more...), ex...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte(`<hashlist version="2.0"><creatorinfo><creationdate>2025-01-01T00:00:00Z</creationdate></creatorinfo><processinfo/><hashes><hash><path>../x</path></hash></hashes></hashlist>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(p string) {
			if err := treepath.Validate(p); err != nil {
				t.Fatalf("parser let %q through: %v", p, err)
			}
		}
		h, err := parseGeneration(bytes.NewReader(data), parseOpts{
			onFile: func(r *fileRec) error { check(r.Path); return nil },
			onDir:  func(r *dirRec) error { check(r.Path); return nil },
		})
		if err == nil {
			for _, r := range h.Refs {
				check(r.Path)
			}
		}
		if entries, err := parseChain(bytes.NewReader(data)); err == nil {
			for _, e := range entries {
				check(e.File)
			}
		}
	})
}
