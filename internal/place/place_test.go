//go:build linux || darwin

package place

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/hashing"
)

// drive makes a root and, beside it, a folder a link on the drive points to.
func drive(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "EDITOR1"), filepath.Join(base, "home-music")
	os.Mkdir(root, 0o755)
	os.Mkdir(outside, 0o755)
	if err := os.WriteFile(filepath.Join(outside, "cue.wav"), []byte("the editor's own music"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../home-music", filepath.Join(root, "Music")); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func assertUntouched(t *testing.T, outside string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(outside, "cue.wav"))
	if err != nil || string(got) != "the editor's own music" {
		t.Fatalf("the file outside the drive was changed: %q, %v", got, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("something was created outside the drive: %v", entries)
	}
}

// Nothing is created, written, renamed or removed through a link on the
// drive, at any depth.
func TestNothingThroughALink(t *testing.T) {
	root, outside := drive(t)
	r, err := Open(root, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var le *LinkError
	if _, err := r.Begin("Music/cue.wav", BeginOptions{Perm: 0o644}); !errors.As(err, &le) {
		t.Fatalf("Begin through a link: %v, want a LinkError", err)
	}
	if err := r.MkdirAll("Music/Stems"); !errors.As(err, &le) {
		t.Fatalf("MkdirAll through a link: %v", err)
	}
	if err := r.Remove("Music/cue.wav"); !errors.As(err, &le) {
		t.Fatalf("Remove through a link: %v", err)
	}
	if _, err := r.Lstat("Music/cue.wav"); !errors.As(err, &le) {
		t.Fatalf("Lstat through a link: %v", err)
	}
	if err := r.WriteFileBytes("Music/report.txt", []byte("x"), 0o644); !errors.As(err, &le) {
		t.Fatalf("WriteFile through a link: %v", err)
	}
	if err := r.SetDirTime("Music", time.Unix(1e9, 0)); err != nil {
		t.Logf("SetDirTime on a link: %v", err)
	}
	assertUntouched(t, outside)

	// A link at the final name is never written through either.
	os.Mkdir(filepath.Join(root, "Audio"), 0o755)
	os.Symlink("../../home-music/cue.wav", filepath.Join(root, "Audio", "cue.wav"))
	p, err := r.Begin("Audio/cue.wav", BeginOptions{Perm: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("new"))
	if err := p.Settle(context.Background(), SettleOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(true); !errors.As(err, &le) {
		t.Fatalf("Commit over a link: %v, want a LinkError", err)
	}
	assertUntouched(t, outside)
	assertNoTemps(t, root)
}

func assertNoTemps(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && IsTemp(d.Name()) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// A temporary file kept after an interruption is found by the next run
// under the same name, and its bytes count in the one-pass hash.
func TestResumeHashesWhatWasLeft(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	data := bytes.Repeat([]byte("0123456789abcdef"), 100000)
	p, err := r.Begin("Reel 1/clip.mxf", BeginOptions{Perm: 0o644, Resume: true, Hash: true})
	if err != nil {
		t.Fatal(err)
	}
	p.Write(data[:700000])
	p.Keep()
	if _, err := os.Stat(filepath.Join(root, "Reel 1", TempName("clip.mxf"))); err != nil {
		t.Fatalf("kept temporary file: %v", err)
	}

	p, err = r.Begin("Reel 1/clip.mxf", BeginOptions{Perm: 0o644, Resume: true, Hash: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset() != 700000 {
		t.Fatalf("resumed at %d, want 700000", p.Offset())
	}
	p.Write(data[700000:])
	want := hashing.NewMultiHasher(hashing.BLAKE3, hashing.XXH128)
	want.Write(data)
	if p.Sum() != want.Sum() {
		t.Fatal("the resumed hash differs from the whole file's")
	}
	mt := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	if err := p.Settle(context.Background(), SettleOptions{MTime: mt, ReadBack: true, XXH128: want.Sum().XXH128Hex()}); err != nil {
		t.Fatal(err)
	}
	fi, err := p.Commit(false)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mt) || fi.Size() != int64(len(data)) {
		t.Fatalf("placed file: %v %d", fi.ModTime(), fi.Size())
	}
	got, _ := os.ReadFile(filepath.Join(root, "Reel 1", "clip.mxf"))
	if !bytes.Equal(got, data) {
		t.Fatal("placed content differs")
	}
	assertNoTemps(t, root)
}

// A read-back that does not match keeps the final name free.
func TestReadBackMismatchIsNotPlaced(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	p, _ := r.Begin("a.mxf", BeginOptions{Perm: 0o644, Hash: true})
	p.Write([]byte("some media"))
	err := p.Settle(context.Background(), SettleOptions{ReadBack: true, XXH128: "00000000000000000000000000000000"})
	var rb *ReadBackError
	if !errors.As(err, &rb) {
		t.Fatalf("Settle: %v, want a ReadBackError", err)
	}
	p.Abort()
	if _, err := os.Lstat(filepath.Join(root, "a.mxf")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("final name: %v", err)
	}
	assertNoTemps(t, root)
}

// A small file is read back in one call of one byte more than was
// written: a temporary file that grew since (another writer) does not
// read back as written, though its first bytes do.
func TestReadBackOfASmallFileThatGrewIsNotPlaced(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	p, _ := r.Begin("bin.avb", BeginOptions{Perm: 0o644, Hash: true})
	p.Write([]byte("bin contents"))
	want := p.Sum().XXH128Hex()
	other, err := os.OpenFile(filepath.Join(root, TempName("bin.avb")), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	other.Write([]byte("!"))
	other.Close()
	err = p.Settle(context.Background(), SettleOptions{ReadBack: true, XXH128: want})
	var rb *ReadBackError
	if !errors.As(err, &rb) {
		t.Fatalf("Settle: %v, want a ReadBackError", err)
	}
	p.Abort()
	assertNoTemps(t, root)
}

// Without replace, a file already at the final name is left alone.
func TestCommitNeverReplacesUnasked(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.mxf"), []byte("theirs"), 0o644)
	r, _ := Open(root, Hooks{})
	p, _ := r.Begin("a.mxf", BeginOptions{Perm: 0o644})
	p.Write([]byte("ours"))
	p.Settle(context.Background(), SettleOptions{})
	var ee *ExistsError
	if _, err := p.Commit(false); !errors.As(err, &ee) {
		t.Fatalf("Commit: %v, want an ExistsError", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "a.mxf")); string(got) != "theirs" {
		t.Fatalf("replaced: %q", got)
	}
	assertNoTemps(t, root)
}

// Drive files meant for every user are 0644 whatever the umask, and a
// killed writer's temporary file is reused, not left beside a new one.
func TestWriteFilePermissions(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, ".editkit"), 0o755)
	os.WriteFile(filepath.Join(root, ".editkit", TempName("checksums.b3sum")), []byte("left by a killed run"), 0o600)
	r, err := Open(root, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.WriteFile(".editkit/checksums.b3sum", 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, "abc  clip.mxf\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, ".editkit", "checksums.b3sum"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("checksums.b3sum: %v %v, want 0644", fi.Mode(), err)
	}
	if err := r.WriteFileBytes(".editkit/secret.json", []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(root, ".editkit", "secret.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, want 0600", fi.Mode())
	}
	assertNoTemps(t, root)

	// A failing fill leaves the old file and no temporary one.
	err = r.WriteFile(".editkit/checksums.b3sum", 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return errors.New("manifest unreadable")
	})
	if err == nil {
		t.Fatal("a failed fill reported success")
	}
	if got, _ := os.ReadFile(filepath.Join(root, ".editkit", "checksums.b3sum")); string(got) != "abc  clip.mxf\n" {
		t.Fatalf("old file changed: %q", got)
	}
	assertNoTemps(t, root)
}

func TestTempsAndRemoveTemps(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "Reel 1"), 0o755)
	os.MkdirAll(filepath.Join(root, ".editkit"), 0o755)
	os.WriteFile(filepath.Join(root, "Reel 1", TempName("a.mxf")), make([]byte, 1000), 0o644)
	os.WriteFile(filepath.Join(root, ".editkit", TempName("drive.json")), make([]byte, 10), 0o644)
	r, _ := Open(root, Hooks{})
	rels, n, err := r.Temps(".editkit")
	if err != nil || len(rels) != 1 || n != 1000 {
		t.Fatalf("Temps: %v %d %v", rels, n, err)
	}
	if err := r.RemoveTemps(".editkit"); err != nil {
		t.Fatal(err)
	}
	if rels, _, _ := r.Temps(".editkit"); len(rels) != 0 {
		t.Fatalf("left: %v", rels)
	}
}
