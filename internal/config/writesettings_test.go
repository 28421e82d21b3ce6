package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/slowtest"
)

// A link where the settings folder should be (~/.config/editkit pointing
// elsewhere) is refused by `config init` and by every setting a command
// saves: nothing is written in the folder it points to.
func TestSettingsFolderLinkRefused(t *testing.T) {
	root := t.TempDir()
	elsewhere := filepath.Join(root, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "editkit")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "editkit", "config.toml")
	var le *place.LinkError
	if err := WriteTemplate(path, false); !errors.As(err, &le) || !strings.Contains(err.Error(), path) {
		t.Errorf("config init into a linked folder: %v", err)
	}
	if err := SetIn(path, "", "hub", "/hub"); !errors.As(err, &le) {
		t.Errorf("setting saved into a linked folder: %v", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("written through the link: %v", entries)
	}
}

// A settings file whose replacement cannot be written (the disk is full)
// stays as it was, whole, and no temporary file is left beside it.
func TestSettingsFileKeptWhenWriteFails(t *testing.T) {
	if os.Geteuid() != 0 {
		slowtest.Missing(t, "root (to mount a small tmpfs)")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disk).CombinedOutput(); err != nil {
		slowtest.Missing(t, fmt.Sprintf("mount -t tmpfs: %v: %s", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
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
