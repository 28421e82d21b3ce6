package mhl

import (
	"io"
	"io/fs"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refDir holds the ASC MHL schemas, the reference tool's examples and
// conformance vector, shared with cmd/editkit's tests (a copy of
// shared/reference/ascmhl).
const refDir = "../../testdata/ascmhl-reference"

// walkTree yields the entries of a real tree, as the copy command would:
// every file and folder in WalkDir order, files hashed in fmts.
func walkTree(root string, fmts []Format, listed func(rel string) bool) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			e := Entry{Path: rel, Dir: d.IsDir(), ModTime: info.ModTime(), Listed: listed == nil || listed(rel)}
			if !e.Dir {
				e.Size = info.Size()
				if e.Hashes, err = hashFile(p, fmts); err != nil {
					return err
				}
			}
			if !yield(e, nil) {
				return filepath.SkipAll
			}
			return nil
		})
		if err != nil {
			yield(Entry{}, err)
		}
	}
}

func hashFile(p string, fmts []Format) ([]Hash, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs []Hasher
	var ws []io.Writer
	for _, ft := range fmts {
		h, err := NewHash(ft)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
		ws = append(ws, h)
	}
	if _, err := io.Copy(io.MultiWriter(ws...), f); err != nil {
		return nil, err
	}
	now := time.Now()
	var out []Hash
	for i, h := range hs {
		out = append(out, Hash{Format: fmts[i], Digest: h.Digest(), Action: Original, HashDate: now})
	}
	return out, nil
}

// copyTree copies src to dst, leaving out what skip says.
func copyTree(t *testing.T, src, dst string, skip func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip != nil && skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// xmllint validates a file against one of the ASC MHL schemas. A missing
// xmllint fails the test: schema validity is the point.
func xmllint(t *testing.T, schema, file string) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found: install libxml2-utils")
	}
	out, err := exec.Command(bin, "--noout", "--schema", filepath.Join(refDir, schema), file).CombinedOutput()
	if err != nil {
		t.Fatalf("%s does not validate against %s: %v\n%s", file, schema, err, out)
	}
}

// validateHistories runs xmllint on every generation and chain file below root.
func validateHistories(t *testing.T, root string) {
	t.Helper()
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) != folderName {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".mhl"):
			xmllint(t, "ASCMHL.xsd", p)
			n++
		case filepath.Base(p) == chainFileName:
			xmllint(t, "ASCMHLDirectory.xsd", p)
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatalf("no history files below %s", root)
	}
}

// parsed is a generation file read with the package's own parser.
type parsed struct {
	hdr   *genHeader
	files map[string]fileRec
	dirs  map[string]dirRec
	order []string // paths of <hash> and <directoryhash> in file order; dirs end in "/"
}

func parseFile(t *testing.T, p string) parsed {
	t.Helper()
	out := parsed{files: map[string]fileRec{}, dirs: map[string]dirRec{}}
	var err error
	out.hdr, err = parseGenerationFile(p, parseOpts{
		onFile: func(r *fileRec) error {
			out.files[r.Path] = *r
			out.order = append(out.order, r.Path)
			return nil
		},
		onDir: func(r *dirRec) error {
			out.dirs[r.Path] = *r
			out.order = append(out.order, r.Path+"/")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// onlyGeneration returns the path of the single generation file in dir/ascmhl.
func generationFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, folderName, "*.mhl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func entriesOf(es ...Entry) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func testGeneration() Generation {
	return Generation{
		Process:     ProcessInPlace,
		Created:     time.Date(2026, 11, 24, 15, 36, 56, 0, time.UTC),
		Host:        "vm",
		Tool:        "editkit",
		ToolVersion: "test",
	}
}
