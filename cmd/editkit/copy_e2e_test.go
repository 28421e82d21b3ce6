package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/samplemedia"
)

// One source to three drives: each drive equals the source less the junk,
// carries a manifest, a b3sum list the real b3sum accepts and a report; a
// second run copies nothing.
func TestCopyOneToThree(t *testing.T) {
	long(t)
	needTool(t, "b3sum")
	src := filepath.Join(t.TempDir(), "Show")
	st := generate(t, src, samplemedia.Options{Seed: 1, TotalBytes: 40 << 20})
	if st.Junk == 0 || st.AvidDB == 0 {
		t.Fatalf("sample tree has no junk to skip: %+v", st)
	}
	base := t.TempDir()
	var dests []string
	for _, n := range []string{"EDITOR1", "EDITOR2", "EDITOR3"} {
		d := filepath.Join(base, n)
		os.Mkdir(d, 0o755)
		dests = append(dests, d)
	}
	r := editkit(t, append([]string{"copy", "--json", "--label", "Anna", "--label", "Ben", "--label", "Cleo", src}, dests...)...)
	if r.code != 0 {
		t.Fatalf("copy failed: %s", r)
	}
	var res struct {
		OK bool `json:"ok"`
		offload.Result
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.stdout)
	}
	if !res.OK || len(res.Destinations) != 3 {
		t.Fatalf("json result: %+v", res)
	}
	var reasons []string
	for _, s := range res.Skipped {
		reasons = append(reasons, s.Reason)
	}
	for _, want := range []string{"Finder", "AppleDouble", "Spotlight", "Avid media database"} {
		if !strings.Contains(strings.Join(reasons, "|"), want) {
			t.Errorf("the summary of skipped entries does not mention %s: %q", want, reasons)
		}
	}
	if res.Files != st.Files-st.Junk-st.AvidDB {
		t.Errorf("copied %d files; the tree has %d less %d junk and %d Avid databases", res.Files, st.Files, st.Junk, st.AvidDB)
	}
	for i, d := range dests {
		assertCopied(t, src, d)
		assertNoJunk(t, d)
		dr := res.Destinations[i]
		if dr.Label != []string{"Anna", "Ben", "Cleo"}[i] || !strings.HasPrefix(dr.DriveID, "ek-") {
			t.Errorf("%s: label %q, id %q", d, dr.Label, dr.DriveID)
		}
		if dr.Copied != res.Files || dr.Verified != res.Files {
			t.Errorf("%s: %d copied, %d verified, want %d", d, dr.Copied, dr.Verified, res.Files)
		}
		check := exec.Command("b3sum", "--check", "--quiet", ".editkit/checksums.b3sum")
		check.Dir = d
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("%s: b3sum --check: %v\n%s", d, err, out)
		}
		report, err := os.ReadFile(filepath.Join(dr.Report))
		if err != nil {
			t.Errorf("%s: report: %v", d, err)
		} else if !strings.Contains(string(report), "COMPLETE") || !strings.Contains(string(report), "Avid MediaFiles/MXF/1/") {
			t.Errorf("%s: report does not record the copy:\n%.2000s", d, report)
		}
	}

	r = editkit(t, append([]string{"copy", "--json", src}, dests...)...)
	if r.code != 0 {
		t.Fatalf("second copy: %s", r)
	}
	json.Unmarshal([]byte(r.stdout), &res)
	for _, d := range res.Destinations {
		if d.Copied != 0 || d.AlreadyThere != res.Files {
			t.Errorf("rerun on %s copied %d, found %d already there of %d", d.Root, d.Copied, d.AlreadyThere, res.Files)
		}
	}
}

// assertNoJunk checks by name, independently of editkit's rules, that no
// junk reached a drive.
func assertNoJunk(t *testing.T, root string) {
	t.Helper()
	junk := map[string]bool{".DS_Store": true, "Thumbs.db": true, ".Spotlight-V100": true, ".fseventsd": true,
		".Trashes": true, ".TemporaryItems": true, "msmMMOB.mdb": true, "msmFMID.pmr": true}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && (junk[d.Name()] || strings.HasPrefix(d.Name(), "._")) {
			t.Errorf("junk copied: %s", p)
		}
		return nil
	})
}

// kill -9 at random moments of a multi-GiB copy, several times; then the
// same command finishes the job: identical trees, no temporary files.
func TestCopyKill9Resume(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 2, TotalBytes: 2 << 30})
	base := t.TempDir()
	d1, d2 := filepath.Join(base, "A"), filepath.Join(base, "B")
	os.Mkdir(d1, 0o755)
	os.Mkdir(d2, 0o755)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 4; i++ {
		cmd, out := startEditkit(t, "copy", src, d1, d2)
		// Let it get into the copy: at least some files committed.
		time.Sleep(time.Duration(300+rng.IntN(2500)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if code := exitCode(err); code != -int(syscall.SIGKILL) && code != 0 {
			t.Fatalf("run %d: exit %d before the kill:\n%s", i, code, out.String())
		}
	}
	r := editkit(t, "copy", "--json", src, d1, d2)
	if r.code != 0 {
		t.Fatalf("resumed copy: %s", r)
	}
	var res offload.Result
	json.Unmarshal([]byte(r.stdout), &res)
	if res.Destinations[0].AlreadyThere == 0 {
		t.Errorf("the resumed copy started from scratch: %+v", res.Destinations[0])
	}
	assertCopied(t, src, d1)
	assertCopied(t, src, d2)
}

// Ctrl-C stops within a couple of seconds, says how to resume, and the same
// command resumes.
func TestCopyInterruptAndResume(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 3, TotalBytes: 1 << 30})
	dst := t.TempDir()
	cmd, out := startEditkit(t, "copy", "--jobs", "2", src, dst)
	waitFor(t, 30*time.Second, "the first files to be copied", func() bool {
		fi, err := os.Stat(filepath.Join(dst, ".editkit", "journal.ekj"))
		return err == nil && fi.Size() > 1000
	})
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait() // exit 1, not 0: it stopped rather than finished (a hang would time the test out)
	if code := exitCode(err); code != 1 {
		t.Fatalf("interrupted copy exited %d, want 1:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "run the same command again") || !strings.Contains(out.String(), "editkit copy") {
		t.Errorf("no resume hint after Ctrl-C:\n%s", out.String())
	}
	assertNoTemps(t, dst)
	r := editkit(t, "copy", src, dst)
	if r.code != 0 {
		t.Fatalf("resume: %s", r)
	}
	assertCopied(t, src, dst)
}

// A destination without room for the copy is refused before a byte is
// written: exit 2, the drive left untouched.
func TestCopyPreflightDiskFull(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 4, TotalBytes: 40 << 20})
	small := mountTmpfs(t, "20m")
	big := t.TempDir()
	r := editkit(t, "copy", src, big, small)
	if r.code != 2 {
		t.Fatalf("copy to a too-small drive: %s", r)
	}
	if !strings.Contains(r.stderr, "not enough space on "+small) || !strings.Contains(r.stderr, "free") {
		t.Errorf("error does not name the drive and the space:\n%s", r.stderr)
	}
	for _, d := range []string{small, big} {
		entries, _ := os.ReadDir(d)
		if len(entries) != 0 {
			t.Errorf("%s was written to by a refused copy: %v", d, entries)
		}
	}
}

// Space running out mid-copy (another program fills the drive): exit 1, the
// failure named, and no final name holding a partial file.
func TestCopyDiskFillsMidCopy(t *testing.T) {
	long(t)
	src := t.TempDir()
	data := make([]byte, 8<<20)
	for i := 0; i < 40; i++ {
		for j := range data {
			data[j] = byte(i + j*7)
		}
		os.WriteFile(filepath.Join(src, fmt.Sprintf("clip%02d.mxf", i)), data, 0o644)
	}
	dst := mountTmpfs(t, "400m")
	cmd, out := startEditkit(t, "copy", "--jobs", "1", src, dst)
	waitFor(t, 30*time.Second, "the copy to start writing", func() bool {
		m, _ := filepath.Glob(filepath.Join(dst, "clip*.mxf"))
		return len(m) >= 2
	})
	// Another writer takes every free byte.
	filler, err := os.Create(filepath.Join(dst, "filler.bin"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	err = cmd.Wait()
	if code := exitCode(err); code != 1 {
		t.Fatalf("copy onto a drive that filled up exited %d, want 1:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "is full") {
		t.Errorf("the failure does not say the drive is full:\n%s", out.String())
	}
	os.Remove(filepath.Join(dst, "filler.bin"))
	// Every file under its final name is complete and right.
	copied := fileHashes(t, dst, destRules)
	want := fileHashes(t, src, destRules)
	if len(copied) == 0 || len(copied) >= len(want) {
		t.Fatalf("%d of %d files on the full drive; the test did not fill it mid-copy", len(copied), len(want))
	}
	for p, h := range copied {
		if want[p] != h {
			t.Errorf("%s holds partial or wrong data after the disk filled", p)
		}
	}
	assertNoTemps(t, dst)
	// With the space back, the same command completes the drive.
	if r := editkit(t, "copy", src, dst); r.code != 0 {
		t.Fatalf("resume after freeing space: %s", r)
	}
	assertCopied(t, src, dst)
}

// Names that cannot live on exFAT/NTFS, and names that collide there, are
// listed and refused unless --allow-unportable.
func TestCopyRefusesUnportableNames(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 5, TotalBytes: 5 << 20, Unportable: true})
	dst := t.TempDir()
	r := editkit(t, "copy", src, dst)
	if r.code != 2 {
		t.Fatalf("unportable names: %s", r)
	}
	for _, want := range []string{"A.mxf", "a.mxf", "CON", "case-insensitive", "--allow-unportable", ":"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal does not mention %q:\n%s", want, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("refused copy wrote %v", entries)
	}
	if r := editkit(t, "copy", "--allow-unportable", src, dst); r.code != 0 {
		t.Fatalf("--allow-unportable: %s", r)
	}
	assertCopied(t, src, dst)
}

// An exFAT drive (through FUSE, on a loop device): it stores mtimes at 10 ms,
// so a rerun must still recognise every file as already there.
func TestCopyToExfat(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 6, TotalBytes: 30 << 20})
	drive := mountExfat(t, "256M")
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy to exFAT: %s", r)
	}
	assertCopied(t, src, drive)
	r := editkit(t, "copy", "--json", src, drive)
	var res offload.Result
	json.Unmarshal([]byte(r.stdout), &res)
	if r.code != 0 || res.Destinations[0].Copied != 0 {
		t.Fatalf("rerun on exFAT copied again (mtime rounding?): %s", r)
	}
}

// A source file that cannot be read is reported; the rest is copied; exit 1.
func TestCopyUnreadableSourceFile(t *testing.T) {
	long(t)
	needRoot(t)
	needTool(t, "setpriv")
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 8, TotalBytes: 5 << 20})
	secret := filepath.Join(src, "Avid MediaFiles", "MXF", "1", "locked.mxf")
	os.WriteFile(secret, []byte("no access"), 0o000)
	dst := t.TempDir()
	// Permissions do not stop root: run editkit as nobody.
	for _, p := range []string{filepath.Dir(src), dst} {
		os.Chmod(p, 0o777)
	}
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.Chmod(filepath.Dir(filepath.Dir(src)), 0o755)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", editkitBin, "copy", src, dst)
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(string(out), "locked.mxf") || !strings.Contains(string(out), "permission denied") {
		t.Errorf("unreadable file not reported:\n%s", out)
	}
	os.Remove(secret)
	assertCopied(t, src, dst)
}

func TestCopyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"copy"},
		{"copy", dir},
		{"copy", "--verify=sometimes", dir, t.TempDir()},
		{"copy", "--label", "a", "--label", "b", dir, t.TempDir()},
		{"copy", dir, filepath.Join(dir, "missing")},
		{"copy", filepath.Join(dir, "missing"), t.TempDir()},
		{"copy", dir, dir},
		{"copy", "--no-such-flag", dir, t.TempDir()},
	}
	for _, args := range cases {
		r := editkit(t, args...)
		if r.code != 2 || r.stderr == "" || strings.Contains(r.stderr, "panic") {
			t.Errorf("editkit %q: %s", args, r)
		}
	}
}
