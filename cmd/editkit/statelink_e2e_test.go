//go:build unix

package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linkState moves a drive's .editkit folder elsewhere and leaves a link to
// it in its place (or, for a drive never written to, a link to an empty
// folder); it returns the folder the link points at.
func linkState(t *testing.T, drive string) string {
	t.Helper()
	elsewhere := filepath.Join(t.TempDir(), "state")
	if err := os.Rename(filepath.Join(drive, ".editkit"), elsewhere); os.IsNotExist(err) {
		os.Mkdir(elsewhere, 0o755)
	} else if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(drive, ".editkit")); err != nil {
		t.Fatal(err)
	}
	return elsewhere
}

// refusesLink runs a command on a drive whose .editkit is a link: it must
// fail naming the link, and write nothing where the link points.
func refusesLink(t *testing.T, elsewhere string, run func() result) {
	t.Helper()
	before := treeState(t, elsewhere)
	r := run()
	if r.code == 0 {
		t.Errorf("exit 0 with .editkit a link:\n%s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "symbolic link") {
		t.Errorf("no word of the link:\n%s", r)
	}
	if after := treeState(t, elsewhere); !maps.Equal(after, before) {
		t.Errorf("written where the .editkit link points:\nbefore %v\nafter  %v", before, after)
	}
}

// A .editkit link planted on a drive (pointing at another drive's state,
// or at an empty folder on a drive never written to) is refused by copy,
// verify, pull and purge, and nothing is written where it points: not the lock,
// the journal, drive.json, a report or a checksum list.
func TestDriveStateLinkRefused(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Picture", "A001.mxf"), 1<<20, 11)

	t.Run("copy to a new drive", func(t *testing.T) {
		drive := t.TempDir()
		elsewhere := linkState(t, drive)
		refusesLink(t, elsewhere, func() result { return editkit(t, "copy", src, drive) })
	})

	drive := t.TempDir()
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	elsewhere := linkState(t, drive)
	t.Run("copy", func(t *testing.T) {
		refusesLink(t, elsewhere, func() result { return editkit(t, "copy", src, drive) })
	})
	t.Run("verify", func(t *testing.T) {
		refusesLink(t, elsewhere, func() result { return editkit(t, "verify", drive) })
	})
	t.Run("pull and purge", func(t *testing.T) {
		h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
		h.dir = h.url
		inbox := t.TempDir()
		writeMedia(t, filepath.Join(inbox, "cue.wav"), 1<<20, 12)
		if r := h.run(t, "push", "--category", "music", "--dest-path", "Music", filepath.Join(inbox, "cue.wav")); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		refusesLink(t, elsewhere, func() result { return h.run(t, "pull", drive) })
		refusesLink(t, elsewhere, func() result { return h.run(t, "purge", "--all", drive) })
	})
}
