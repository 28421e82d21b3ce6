package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/testmount"
)

// The settings folder is the user's own: a link there (~/.config/editkit
// kept with their dotfiles) is followed, and the file lands in the folder
// it points to. A link at the settings file itself is refused by `config
// init` and by every setting a command saves, and nothing is written where
// it points.
func TestSettingsFolderLinkFollowedFileLinkRefused(t *testing.T) {
	root := t.TempDir()
	elsewhere := filepath.Join(root, "dotfiles")
	if err := os.Mkdir(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "editkit")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "editkit", "config.toml")
	if err := SetIn(path, "", "hub", "/hub"); err != nil {
		t.Fatalf("setting saved into a linked settings folder: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(elsewhere, "config.toml")); err != nil || !strings.Contains(string(b), "/hub") {
		t.Errorf("settings file in the linked folder: %v %q", err, b)
	}

	target := filepath.Join(root, "target.toml")
	os.WriteFile(target, []byte("hub = \"/kept\"\n"), 0o600)
	linked := filepath.Join(root, "linked.toml")
	if err := os.Symlink(target, linked); err != nil {
		t.Fatal(err)
	}
	var le *place.LinkError
	if err := WriteTemplate(linked, true); !errors.As(err, &le) || !strings.Contains(err.Error(), linked) {
		t.Errorf("config init --force on a linked file: %v", err)
	}
	if err := SetIn(linked, "", "hub", "/other"); err == nil || !strings.Contains(err.Error(), linked) {
		t.Errorf("setting saved through a linked file: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "hub = \"/kept\"\n" {
		t.Errorf("written through the link: %q", b)
	}
	if fi, err := os.Lstat(linked); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
}

// A settings file whose replacement cannot be written (the disk is full)
// stays as it was, whole, and no temporary file is left beside it.
func TestSettingsFileKeptWhenWriteFails(t *testing.T) {
	disk := testmount.Tmpfs(t, "size=64k")
	path := filepath.Join(disk, "editkit", "config.toml")
	const old = "hub = \"/the/team/hub\"\n"
	if err := SetIn(path, "", "hub", "/the/team/hub"); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(before), old) {
		t.Fatalf("settings file before: %v %q", err, before)
	}
	// Fill the disk to the last byte.
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 4096); err == nil; {
		_, err = filler.Write(buf)
	}
	filler.Close()

	if err := WriteTemplate(path, true); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("config init --force on a full disk: %v", err)
	}
	if err := SetIn(path, "tracker", "sheet", "1AbC"); err == nil {
		t.Fatal("setting saved on a full disk")
	}
	if after, err := os.ReadFile(path); err != nil || string(after) != string(before) {
		t.Errorf("settings file after failed writes: %v\n%q\nwant\n%q", err, after, before)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "config.toml" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
