package b3sum

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

// A list written here must be accepted by the real b3sum --check, including
// names that need escaping.
func TestRealB3sumChecksOurList(t *testing.T) {
	if _, err := exec.LookPath("b3sum"); err != nil {
		t.Fatalf("b3sum is not installed (apt install b3sum): %v", err)
	}
	dir := t.TempDir()
	names := []string{"plain.mxf", "with space.wav", `back\slash.avb`, "new\nline.txt", "Café.wav"}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, n := range names {
		data := []byte("content of " + n)
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
		w.Write(blake3.Sum256(data), n)
	}
	w.Flush()
	list := filepath.Join(dir, "list.b3sum")
	os.WriteFile(list, buf.Bytes(), 0o644)
	cmd := exec.Command("b3sum", "--check", "list.b3sum")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("b3sum --check rejected our list: %v\n%s", err, out)
	}

	var got []string
	for l, err := range Parse(bytes.NewReader(buf.Bytes())) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Path)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("round trip: %q, want %q", got, names)
	}

	// And we read what b3sum itself writes.
	cmd = exec.Command("b3sum", names...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for l, err := range Parse(bytes.NewReader(out)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Path)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("parsing b3sum output: %q, want %q", got, names)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, in := range []string{"nothex  a\n", strings.Repeat("a", 64) + "\n", `\` + strings.Repeat("a", 64) + "  x\\q\n"} {
		for _, err := range Parse(strings.NewReader(in)) {
			if err == nil {
				t.Errorf("accepted %q", in)
			}
		}
	}
}
