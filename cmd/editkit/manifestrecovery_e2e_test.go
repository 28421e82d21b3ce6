package main

// A drive whose editkit manifest is damaged or gone: verify says so (never
// "all intact"), names the way out, and `verify --rebuild` is that way out.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/verify"
)

// mrCloneDrive copies a prepared drive (times kept) so each case damages its own.
func mrCloneDrive(t *testing.T, drive string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(drive))
	if out, err := exec.Command("cp", "-a", drive, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	return dst
}

func mrStateFile(drive, name string) string { return filepath.Join(drive, ".editkit", name) }

func mrEditFile(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mrKeptAside returns the files a rebuild renamed aside.
func mrKeptAside(t *testing.T, drive string) []string {
	t.Helper()
	m, _ := filepath.Glob(mrStateFile(drive, "*.damaged-*"))
	return m
}

// mrCopyJSON runs copy --json and returns its result for the one destination.
func mrCopyJSON(t *testing.T, src, drive string) (*offload.DestResult, result) {
	t.Helper()
	r := editkit(t, "copy", "--json", src, drive)
	var res offload.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Destinations) != 1 {
		return nil, r
	}
	return res.Destinations[0], r
}

// Every kind of damage to the manifest: verify exits 1 naming the file, the
// damage and the rebuild command (never "all intact"); the rebuild keeps the
// damaged file aside and verify is clean again.
func TestE2EDamagedManifestVerifyRebuild(t *testing.T) {
	long(t)
	_, prepared := preparedDrive(t, 91, 6<<20)
	manifestFile := mrStateFile(prepared, "manifest.ekm")
	cases := []struct {
		name   string
		damage func(t *testing.T, drive string)
		file   string // the damaged file named in the message
		what   string
	}{
		{"truncated", func(t *testing.T, d string) {
			mrEditFile(t, mrStateFile(d, "manifest.ekm"), func(b []byte) []byte { return b[:len(b)/2] })
		}, "manifest.ekm", "truncated"},
		{"flipped byte mid-file", func(t *testing.T, d string) {
			mrEditFile(t, mrStateFile(d, "manifest.ekm"), func(b []byte) []byte { b[len(b)/2] ^= 0x08; return b })
		}, "manifest.ekm", "flipped byte"},
		{"no trailer", func(t *testing.T, d string) {
			mrEditFile(t, mrStateFile(d, "manifest.ekm"), func(b []byte) []byte {
				b = bytes.TrimSuffix(b, []byte("\n"))
				return b[:bytes.LastIndexByte(b, '\n')+1]
			})
		}, "manifest.ekm", "trailer"},
		{"empty", func(t *testing.T, d string) {
			mrEditFile(t, mrStateFile(d, "manifest.ekm"), func([]byte) []byte { return nil })
		}, "manifest.ekm", "empty"},
		{"journal with a bad line in the middle", func(t *testing.T, d string) {
			// The manifest's record lines as a journal, the first one damaged.
			m, _ := os.ReadFile(mrStateFile(d, "manifest.ekm"))
			ls := bytes.SplitAfter(m, []byte("\n"))
			j := bytes.Join(ls[1:len(ls)-2], nil)
			j[5] ^= 0x08
			os.WriteFile(mrStateFile(d, "journal.ekj"), j, 0o644)
		}, "journal.ekj", "followed by intact lines"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			drive := mrCloneDrive(t, prepared)
			tc.damage(t, drive)
			damagedBytes, _ := os.ReadFile(mrStateFile(drive, tc.file))

			r := editkit(t, "verify", drive)
			out := r.stdout + r.stderr
			if r.code != 1 {
				t.Fatalf("verify of a drive with a damaged manifest: %s", r)
			}
			for _, want := range []string{"damaged", mrStateFile(drive, tc.file), tc.what, "editkit verify --rebuild " + drive} {
				if !strings.Contains(out, want) {
					t.Errorf("verify's message lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "all intact") {
				t.Errorf("verify says all intact about a damaged manifest:\n%s", out)
			}
			if v, r := runVerify(t, "--read-only", drive); r.code != 1 || v.OK || len(kinds(v)) != 1 || !strings.HasPrefix(kinds(v)[0], "damaged-manifest .editkit/"+tc.file) {
				t.Errorf("verify --json: problems %q\n%s", kinds(v), r)
			}

			r = editkit(t, "verify", "--rebuild", drive)
			if r.code != 0 || !strings.Contains(r.stdout, "Rebuilt the manifest") {
				t.Fatalf("verify --rebuild: %s", r)
			}
			kept := mrKeptAside(t, drive)
			if len(kept) == 0 {
				t.Fatalf("the damaged file was not kept aside: %s", r)
			}
			if !slices.ContainsFunc(kept, func(p string) bool {
				b, _ := os.ReadFile(p)
				return strings.HasPrefix(filepath.Base(p), tc.file+".damaged-") && bytes.Equal(b, damagedBytes)
			}) {
				t.Errorf("kept aside %q, none holds the damaged %s as it was", kept, tc.file)
			}
			v, r := runVerify(t, drive)
			if r.code != 0 || !v.OK || v.Files == 0 || v.Verified != v.Files {
				t.Fatalf("verify after the rebuild: %d of %d, problems %q\n%s", v.Verified, v.Files, kinds(v), r)
			}
		})
	}
	if _, err := os.Stat(manifestFile); err != nil {
		t.Fatal(err)
	}
}

// The drive's ASC MHL history disagrees with a file: the rebuild reports it
// modified and does not adopt it (verify then lists it, exit 1); a copy from
// the source puts it back, copying nothing else, and the drive is clean.
func TestE2ERebuildReportsFileTheHistoryDisagreesWith(t *testing.T) {
	long(t)
	src, drive := preparedDrive(t, 92, 6<<20)
	victim := largestMXF(t, drive)
	flipByte(t, filepath.Join(drive, filepath.FromSlash(victim)), 4096)
	mrEditFile(t, mrStateFile(drive, "manifest.ekm"), func(b []byte) []byte { return b[:len(b)/3] })
	extra := filepath.Join(drive, "notes.txt") // on the drive, in no history
	os.WriteFile(extra, []byte("call the lab\n"), 0o644)

	r := editkit(t, "verify", "--json", "--rebuild", drive)
	if r.code != 1 {
		t.Fatalf("rebuild over a file the history disagrees with: %s", r)
	}
	var v verifyOut
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Rebuild == nil {
		t.Fatalf("verify --rebuild --json: %v\n%s", err, r)
	}
	if got := kinds(v); !slices.Equal(got, []string{"modified " + victim}) {
		t.Errorf("problems %q, want the modified %s", got, victim)
	}
	if !slices.Equal(v.Rebuild.New, []string{"notes.txt"}) {
		t.Errorf("new (unverified) files %q, want notes.txt", v.Rebuild.New)
	}
	if !v.Rebuild.History || v.Rebuild.FromHistory+v.Rebuild.FromOld != v.Rebuild.Recorded-1 {
		t.Errorf("rebuild %+v: every other file should be known-good", v.Rebuild)
	}
	// Not adopted: verify still points at it.
	v, r = runVerify(t, "--read-only", drive)
	if r.code != 1 || !slices.Contains(kinds(v), "extra "+victim) {
		t.Errorf("verify after the rebuild: %q\n%s", kinds(v), r)
	}
	// The history still knows better, too.
	if v, r := runVerify(t, "--read-only", "--mhl", drive); r.code != 1 || !slices.Contains(kinds(v), "modified "+victim) {
		t.Errorf("verify --mhl: %q\n%s", kinds(v), r)
	}
	d, r := mrCopyJSON(t, src, drive)
	if d == nil || r.code != 0 || d.Copied != 1 || d.AlreadyThere == 0 {
		t.Fatalf("copy after the rebuild should put back only the modified file: %+v\n%s", d, r)
	}
	if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
		t.Fatalf("verify after the copy: %q\n%s", kinds(v), r)
	}
	want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(victim)))
	if got, _ := os.ReadFile(filepath.Join(drive, filepath.FromSlash(victim))); !bytes.Equal(got, want) {
		t.Errorf("%s was not put back", victim)
	}
}

// No manifest at all: verify checks the drive against its ASC MHL history
// and says so, rather than finding nothing to verify.
func TestE2EVerifyWithoutManifestUsesMHLHistory(t *testing.T) {
	long(t)
	_, prepared := preparedDrive(t, 93, 4<<20)
	for _, tc := range []struct {
		name   string
		remove func(drive string)
	}{
		{"manifest.ekm gone", func(d string) { os.Remove(mrStateFile(d, "manifest.ekm")) }},
		{".editkit gone", func(d string) { os.RemoveAll(filepath.Join(d, ".editkit")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drive := mrCloneDrive(t, prepared)
			tc.remove(drive)
			r := editkit(t, "verify", "--read-only", drive)
			if r.code != 0 || !strings.Contains(r.stdout, "ASC MHL history") || !strings.Contains(r.stdout, "all intact") {
				t.Fatalf("verify without a manifest: %s", r)
			}
			if tc.name == "manifest.ekm gone" && !strings.Contains(r.stdout, "editkit verify --rebuild "+drive) {
				t.Errorf("verify does not name the way to get the manifest back:\n%s", r.stdout)
			}
			// It really checks the files against the history.
			victim := largestMXF(t, drive)
			flipByte(t, filepath.Join(drive, filepath.FromSlash(victim)), 100)
			v, r := runVerify(t, "--read-only", drive)
			if r.code != 1 || v.Against != "mhl" || !slices.Equal(kinds(v), []string{"modified " + victim}) {
				t.Fatalf("verify against the history: %q\n%s", kinds(v), r)
			}
		})
	}
}

// Copy onto a drive whose manifest is damaged: refused with a message that
// names the rebuild; after the rebuild the same copy finds every intact file
// already there and copies nothing again.
func TestE2ECopyOntoDamagedDriveNamesRebuild(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	st := generate(t, src, samplemedia.Options{Seed: 94, TotalBytes: 6 << 20})
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	d, r := mrCopyJSON(t, src, drive)
	if d == nil || r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	files := d.Copied
	mrEditFile(t, mrStateFile(drive, "manifest.ekm"), func(b []byte) []byte { return b[:len(b)/2] })

	r = editkit(t, "copy", src, drive)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "editkit verify --rebuild "+drive) {
		t.Fatalf("copy onto a drive with a damaged manifest should be refused naming the rebuild: %s", r)
	}
	if r := editkit(t, "verify", "--rebuild", drive); r.code != 0 {
		t.Fatalf("verify --rebuild: %s", r)
	}
	d, r = mrCopyJSON(t, src, drive)
	if d == nil || r.code != 0 || d.Copied != 0 || d.AlreadyThere != files {
		t.Fatalf("copy after the rebuild: %+v (want 0 copied, %d already there; the tree has %d files)\n%s", d, files, st.Files, r)
	}
	if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
		t.Fatalf("verify after the copy: %q\n%s", kinds(v), r)
	}
}

// The verdict at the end of verify's summary line says "all intact" only
// for a run that finished, found nothing wrong and failed in no other way.
func TestVerifyVerdictNeverOverstates(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  verify.Result
		err  error
		want string
	}{
		{"clean", verify.Result{Files: 3, Verified: 3}, nil, "all intact"},
		{"interrupted before any problem", verify.Result{Files: 3, Verified: 1, Interrupted: true}, context.Canceled, "INTERRUPTED"},
		{"failed without a problem listed", verify.Result{}, errors.New("writing the verify report: disk full"), "NOT COMPLETED"},
		{"damaged manifest", verify.Result{Problems: []verify.Problem{{Kind: verify.DamagedManifest}}}, nil, "1 PROBLEMS"},
	} {
		got := verifyVerdict(&tc.res, tc.err)
		if !strings.Contains(got, tc.want) || tc.want != "all intact" && strings.Contains(got, "all intact") {
			t.Errorf("%s: verdict %q, want %q", tc.name, got, tc.want)
		}
	}
}
