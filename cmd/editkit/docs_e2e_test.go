package main

import (
	"os"
	"path/filepath"
	"testing"
)

// docsEnv is the environment `make docs` writes the reference in: the
// settings path in the --config help is the same on every machine.
var docsEnv = []string{"HOME=/home/you", "XDG_CONFIG_HOME=", "EDITKIT_CONFIG="}

// The committed Markdown reference (docs/commands, linked from the README)
// is what the commands say now; after changing a command, run make docs.
func TestE2ECommandReferenceUpToDate(t *testing.T) {
	dir := t.TempDir()
	if r := editkitEnv(t, docsEnv, "generate", "--markdown", dir); r.code != 0 {
		t.Fatalf("generate --markdown: %s", r)
	}
	committed := filepath.Join("..", "..", "docs", "commands")
	want, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	have, _ := filepath.Glob(filepath.Join(committed, "*.md"))
	if len(want) == 0 || len(want) != len(have) {
		t.Fatalf("docs/commands has %d pages, the commands make %d: run make docs", len(have), len(want))
	}
	for _, p := range want {
		got, _ := os.ReadFile(filepath.Join(committed, filepath.Base(p)))
		exp, _ := os.ReadFile(p)
		if string(got) != string(exp) {
			t.Errorf("docs/commands/%s is stale: run make docs", filepath.Base(p))
		}
	}
}

// make man: a man page per command, the reference's root page among them.
func TestE2EManPages(t *testing.T) {
	dir := t.TempDir()
	if r := editkitEnv(t, nil, "generate", "--man", dir); r.code != 0 {
		t.Fatalf("generate --man: %s", r)
	}
	for _, page := range []string{"editkit.1", "editkit-copy.1", "editkit-status.1"} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil || len(data) == 0 || data[0] != '.' {
			t.Errorf("man page %s missing or not roff: %v", page, err)
		}
	}
}
