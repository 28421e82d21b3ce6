package backend

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidateKey: a key accepted for the hub, which may come from a
// listing, a snapshot, the event log or the outbox, stays inside the hub
// folder and does not touch the folder backend's own files.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"blobs/ab/abcdef", "snapshots/media/x.json", "../x", "a/../../x", "/abs", ".partial/x", "a/.x", `a\b`, "a:b", "CON", "a/con.txt", "a.", "a ", "a//b", "\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		dir := filepath.FromSlash("/hub")
		j := filepath.Join(dir, filepath.FromSlash(key))
		rel, err := filepath.Rel(dir, j)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("key %q lands at %s, outside %s", key, j, dir)
		}
		if filepath.ToSlash(rel) != key {
			t.Fatalf("key %q is not clean: lands at %s", key, rel)
		}
		for _, seg := range strings.Split(key, "/") {
			if strings.HasPrefix(seg, ".") || strings.ContainsAny(seg, "\\\x00:") {
				t.Fatalf("key %q accepted", key)
			}
		}
	})
}
