package fsx

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMkdirUnder(t *testing.T) {
	root := t.TempDir()
	if err := MkdirUnder(root, "Avid MediaFiles/MXF/7"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "Avid MediaFiles", "MXF", "7")); err != nil || !fi.IsDir() {
		t.Fatalf("not created: %v", err)
	}
	// A link planted inside must not be followed.
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "link"))
	if err := MkdirUnder(root, "link/x"); err == nil {
		t.Fatal("went through a symbolic link")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatal("wrote through the link")
	}
	// A vanished root (an unplugged drive's mount point) is never re-created.
	gone := filepath.Join(t.TempDir(), "EDITOR1")
	if err := MkdirUnder(gone, "a/b"); err == nil {
		t.Fatal("created below a missing root")
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatal("re-created the root")
	}
}
