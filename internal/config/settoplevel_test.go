package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetInTopLevel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "editkit", "config.toml")

	// No file yet: the template, with the setting where it is explained.
	if err := SetIn(path, "", "hub", `/Volumes/NAS/show "hub"`); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, true)
	if err != nil || c.Hub != `/Volumes/NAS/show "hub"` {
		t.Fatalf("after setting hub in a new file: %+v, %v", c, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("settings file mode %v, want 0600", fi.Mode().Perm())
	}
	text, _ := os.ReadFile(path)
	if i, j := strings.Index(string(text), "# hub = "), strings.Index(string(text), "\nhub = "); i < 0 || j < i {
		t.Fatalf("hub not set beside its explanation:\n%s", text)
	}

	// An existing file keeps everything else; the setting is replaced.
	own := "# mine\nuser = \"Anna\"\nhub = \"s3://old/x\"\n\n[backup]\nset = \"cutting-room\"\n"
	os.WriteFile(path, []byte(own), 0o600)
	if err := SetIn(path, "", "hub", "s3://new/y"); err != nil {
		t.Fatal(err)
	}
	text, _ = os.ReadFile(path)
	if want := strings.Replace(own, "s3://old/x", "s3://new/y", 1); string(text) != want {
		t.Fatalf("got\n%s\nwant\n%s", text, want)
	}
	// Not there at all: it goes before the first table.
	if err := SetIn(path, "", "identity", "/k/id.txt"); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path, true)
	if err != nil || c.Identity != "/k/id.txt" || c.User != "Anna" || c.Backup.Set != "cutting-room" || c.Hub != "s3://new/y" {
		t.Fatalf("after adding identity: %+v, %v", c, err)
	}

	// A link is not written through.
	link := filepath.Join(dir, "link.toml")
	os.Symlink(path, link)
	before, _ := os.ReadFile(path)
	if err := SetIn(link, "", "hub", "/elsewhere"); err == nil || !strings.Contains(err.Error(), "link") {
		t.Fatalf("SetIn through a link: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("the link's target changed")
	}
}
