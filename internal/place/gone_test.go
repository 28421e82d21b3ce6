//go:build linux || darwin

package place

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// assertGone checks that every way of writing under r refuses with ErrGone.
func assertGone(t *testing.T, r *Root) {
	t.Helper()
	steps := map[string]func() error{
		"Begin": func() error {
			_, err := r.Begin("Avid Attic/Reel 1.avb", BeginOptions{Perm: 0o644})
			return err
		},
		"MkdirAll": func() error { return r.MkdirAll("Avid Attic") },
		"OpenDir":  func() error { _, err := r.OpenDir("", true); return err },
		"Remove":   func() error { return r.Remove("Avid Attic/Reel 1.avb") },
		"Check":    r.Check,
		"WriteFile": func() error {
			return r.WriteFileBytes(".editkit/reports/copy.txt", []byte("report"), 0o644)
		},
	}
	for name, step := range steps {
		if err := step(); !errors.Is(err, ErrGone) {
			t.Errorf("%s on a root that is no longer the folder it was: %v, want ErrGone", name, err)
		}
	}
}

// A root folder replaced by another at the same path (what a drive's mount
// point looks like once the drive is unplugged) is refused: nothing is
// created in the new folder, and the old one keeps what it had.
func TestNothingPlacedInAFolderThatReplacedTheRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "EDITOR1")
	os.Mkdir(root, 0o755)
	r, err := Open(root, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.MkdirAll("Avid MediaFiles"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(root, filepath.Join(base, "unplugged")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r)
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("written into the folder that replaced the root: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Join(base, "unplugged")); len(entries) != 1 {
		t.Errorf("the old root changed: %v", entries)
	}
	// A root that vanished is not re-created either.
	os.Remove(root)
	assertGone(t, r)
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the vanished root was re-created: %v", err)
	}
}
