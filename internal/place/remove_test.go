//go:build linux || darwin

package place

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A deliberate removal never goes through a link (among the folders or at
// the file itself), removes nothing its check refuses, and removes what it
// approves, confirming it is gone.
func TestRemoveFile(t *testing.T) {
	root, outside := drive(t)
	r, err := Open(root, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var le *LinkError
	if err := r.RemoveFile("Music/cue.wav", nil); !errors.As(err, &le) {
		t.Fatalf("through a linked folder: %v, want a LinkError", err)
	}
	if err := os.Symlink("../home-music/cue.wav", filepath.Join(root, "cue.wav")); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveFile("cue.wav", nil); !errors.As(err, &le) {
		t.Fatalf("a link at the name: %v, want a LinkError", err)
	}
	assertUntouched(t, outside)
	if _, err := os.Lstat(filepath.Join(root, "cue.wav")); err != nil {
		t.Fatalf("the link itself was removed: %v", err)
	}

	os.MkdirAll(filepath.Join(root, "Review"), 0o755)
	f := filepath.Join(root, "Review", "cut.mov")
	os.WriteFile(f, []byte("review"), 0o644)
	refuse := errors.New("changed since placed")
	if err := r.RemoveFile("Review/cut.mov", func(fs.FileInfo) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("refused by its check: %v", err)
	}
	if _, err := os.Stat(f); err != nil {
		t.Fatal("a file its check refused was removed")
	}
	if err := r.RemoveFile("Review/cut.mov", func(fi fs.FileInfo) error {
		if fi.Size() != 6 {
			return refuse
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("still there: %v", err)
	}
	if err := r.RemoveFile("Review/cut.mov", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("already gone: %v, want fs.ErrNotExist", err)
	}
	if err := r.RemoveFile("Review", nil); err == nil {
		t.Fatal("a folder was accepted")
	}
}
