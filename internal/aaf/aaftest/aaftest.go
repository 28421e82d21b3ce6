// Package aaftest makes AAF cuts for tests with pyaaf2 (kept in the shared
// reference folder), linking OP-Atom MXF files (internal/mxf/mxftest makes
// them) the way Avid's export does,
// and reads them back with pyaaf2 as the oracle for which file source mobs a
// cut uses. A missing python3 or pyaaf2 is reported through slowtest.Missing.
package aaftest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/slowtest"
)

//go:embed mkaaf.py
var script []byte

// Spec describes the AAF to make; see mkaaf.py.
type Spec struct {
	Media []string `json:"media"` // OP-Atom MXF files to link
	// Synthetic media are numbered after Media: mobs for files not at hand.
	Synthetic    []Synthetic   `json:"synthetic,omitempty"`
	Rate         int           `json:"rate,omitempty"`
	SectorSize   int           `json:"sector_size,omitempty"` // 512 makes a smaller file
	Compositions []Composition `json:"compositions"`
}

// Synthetic is a master mob and file source mob for media not at hand,
// with its UMIDs in MXF byte order (hex).
type Synthetic struct {
	Name         string `json:"name"`
	FileUMID     string `json:"file_umid"`
	MaterialUMID string `json:"material_umid,omitempty"`
}

// Composition is one sequence: its tracks in order.
type Composition struct {
	Name   string  `json:"name"`
	Tracks []Track `json:"tracks"`
}

// Track is a picture or sound track of source clips.
type Track struct {
	Kind  string `json:"kind"` // "picture" or "sound"
	Clips []Clip `json:"clips"`
}

// Clip uses Media[Media] from Start for Length frames, or, with Nested
// set, the composition of that name.
type Clip struct {
	Media  int    `json:"media"`
	Start  int    `json:"start,omitempty"`
	Length int    `json:"length,omitempty"`
	Nested string `json:"nested,omitempty"`
}

// ErrMissing means python3 or pyaaf2 is not where the tests look.
var ErrMissing = errors.New("python3, or pyaaf2 in ../shared/reference/pyaaf2, missing (.ci/install-deps installs python3)")

// pyaaf2 returns the python3 to run and the PYTHONPATH holding pyaaf2
// (../shared/reference/pyaaf2 beside the repository).
func pyaaf2() (string, string, error) {
	py := "/usr/bin/python3" // Debian's, as the reference README says
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			return "", "", ErrMissing
		}
	}
	root, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", "", fmt.Errorf("aaftest: no go.mod above %s", root)
		}
		root = parent
	}
	lib := filepath.Join(root, "..", "shared", "reference", "pyaaf2")
	if _, err := os.Stat(filepath.Join(lib, "aaf2", "__init__.py")); err != nil {
		return "", "", ErrMissing
	}
	return py, lib, nil
}

func run(ctx context.Context, args ...string) ([]byte, error) {
	py, lib, err := pyaaf2()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "aaftest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sp := filepath.Join(dir, "mkaaf.py")
	if err := os.WriteFile(sp, script, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, append([]string{sp}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+lib)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return nil, fmt.Errorf("pyaaf2 %v: %v\n%s", args, err, ee.Stderr)
	}
	return out, err
}

func must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if errors.Is(err, ErrMissing) {
		slowtest.Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Make writes the AAF described by spec to path.
func Make(t testing.TB, path string, spec Spec) {
	t.Helper()
	must(t, struct{}{}, MakeFile(context.Background(), path, spec))
}

// MakeFile is Make for code without a testing.TB (benchmarks).
func MakeFile(ctx context.Context, path string, spec Spec) error {
	b, err := json.Marshal(struct {
		Out string `json:"out"`
		Spec
	}{path, spec})
	if err != nil {
		return err
	}
	sp := path + ".spec.json"
	if err := os.WriteFile(sp, b, 0o644); err != nil {
		return err
	}
	defer os.Remove(sp)
	_, err = run(ctx, "make", sp)
	return err
}

// Oracle reads the AAF at path with pyaaf2: per composition, the MobIDs
// (as the AAF stores them, hex) of the file source mobs its clips use, once
// per use.
func Oracle(t testing.TB, path string) map[string][]string {
	t.Helper()
	var out map[string][]string
	b, err := run(context.Background(), "read", path)
	if err := json.Unmarshal(must(t, b, err), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
