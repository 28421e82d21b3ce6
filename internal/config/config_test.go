package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestTemplateParsesToNothing(t *testing.T) {
	var c Config
	md, err := toml.Decode(Template, &c)
	if err != nil || len(md.Undecoded()) != 0 || c.Hub != "" {
		t.Fatalf("template: %v %v %+v", err, md.Undecoded(), c)
	}
	// Every commented setting is a real one: uncommenting all of them parses.
	var lines []string
	for _, l := range strings.Split(Template, "\n") {
		if strings.HasPrefix(l, "# ") && strings.Contains(l, " = ") {
			l = strings.TrimPrefix(l, "# ")
		}
		lines = append(lines, l)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
	c, err = Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hub == "" || c.Tracker.Sheet == "" || len(c.Backup.Paths) != 2 || c.BWLimit != "12Mbit" {
		t.Fatalf("uncommented template: %+v", c)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if c, err := Load(filepath.Join(dir, "none.toml"), false); err != nil || c.Hub != "" {
		t.Fatalf("missing optional file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.toml"), true); err == nil {
		t.Fatal("missing required file accepted")
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("hub = \"x\"\nhbu = \"typo\"\n"), 0o644)
	if _, err := Load(bad, true); err == nil || !strings.Contains(err.Error(), "hbu") {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(bad, []byte("hub = \n"), 0o644)
	if _, err := Load(bad, true); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv("EDITKIT_STATE_DIR", "/x/y")
	if StateDir() != "/x/y" {
		t.Fatal(StateDir())
	}
}
