package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SetIn writes a setting into its table and keeps everything else: a new
// file starts from the template, a second value replaces the first, a
// table the file lacks is added, and a link is not written through.
func TestSetIn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "editkit", "config.toml")
	if err := SetIn(path, "tracker", "sheet", "1AbC"); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, true)
	if err != nil || c.Tracker.Sheet != "1AbC" {
		t.Fatalf("after SetIn: %v %+v", err, c.Tracker)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "# The Google Sheet media tracker") {
		t.Errorf("the template's comments were lost:\n%s", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("a new settings file is %v, want 0600 (it may hold secrets)", fi.Mode().Perm())
	}
	os.Remove(path)
	os.WriteFile(path, []byte("hub = \"/srv/hub\"\n\n[tracker]\nsheet = \"old\" # the old one\ncsv = \"/x\"\n"), 0o644)
	if err := SetIn(path, "tracker", "sheet", `new "one"`); err != nil {
		t.Fatal(err)
	}
	if err := SetIn(path, "backup", "set", "cutting-room"); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(path, true); err != nil || c.Tracker.Sheet != `new "one"` || c.Tracker.CSV != "/x" || c.Hub != "/srv/hub" || c.Backup.Set != "cutting-room" {
		t.Fatalf("after replacing: %v %+v", err, c)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("the file's permissions changed to %v", fi.Mode().Perm())
	}
	link := filepath.Join(t.TempDir(), "config.toml")
	os.Symlink(path, link)
	if err := SetIn(link, "tracker", "sheet", "x"); err == nil || !strings.Contains(err.Error(), "link") {
		t.Errorf("writing through a link: %v", err)
	}
}
