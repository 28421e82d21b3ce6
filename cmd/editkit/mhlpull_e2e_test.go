package main

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/offload"
)

// A drive another tool prepared (a history made by the reference tool's
// create, no editkit manifest) that editkit then writes to, by pull or by
// copy: the drive's existing record is adopted — every file the history
// records is checked against it and taken into the manifest and checksum
// list — and the new generation's directory and root hashes cover every
// file present. The reference tool is the judge.

// foreignDrive makes a tree and gives it a history with the reference
// tool's create in the given format.
func foreignDrive(t *testing.T, ref, format string, files map[string]string) string {
	t.Helper()
	drive := filepath.Join(t.TempDir(), "CARDS")
	for p, body := range files {
		full := filepath.Join(drive, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := refMHL(t, ref, "run-ascmhl", "create", "-h", format, drive); code != 0 {
		t.Fatalf("reference create -h %s: exit %d\n%s", format, code, out)
	}
	return drive
}

var foreignFiles = map[string]string{
	"Clips/A001C001.mov": "picture, take one",
	"Clips/A001C002.mov": "picture, take two",
	"Sound/take1.wav":    "sound for take one",
}

// refDirHashesMatch runs the reference verify -dh and fails the test on a
// directory or root hash of generation gen that differs from what the
// reference computes over the drive as it is. (The reference compares
// every generation's hashes with today's tree and reports the older
// generations' root hashes as mismatched once files were added; only gen's
// are editkit's to answer for.)
func refDirHashesMatch(t *testing.T, ref, drive, gen string) {
	t.Helper()
	code, out := refMHL(t, ref, "run-ascmhl-debug", "verify", "-dh", drive)
	if code != 0 {
		t.Errorf("reference verify -dh: exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "ERROR") && strings.Contains(line, "(generation "+gen+")") {
			t.Errorf("reference verify -dh: editkit's generation %s does not cover the drive: %s", gen, line)
		}
	}
}

// checksumPaths returns the paths the drive's b3sum list holds.
func checksumPaths(t *testing.T, drive string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(drive, ".editkit", "checksums.b3sum"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if _, p, ok := strings.Cut(line, "  "); ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// adopted returns how many files a pull's (or a copy destination's) JSON
// result says were adopted from the drive's history; -1 when it says
// nothing about a history.
func adopted(t *testing.T, js string) int {
	t.Helper()
	var v struct {
		History *struct {
			Adopted int `json:"adopted"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if v.History == nil {
		return -1
	}
	return v.History.Adopted
}

// folderHub is a hub in a local folder.
func folderHub(t *testing.T) *testHub {
	dir := t.TempDir()
	return &testHub{name: "folder", url: dir, dir: dir, env: stateEnv(t)}
}

// pushVFX pushes one shot to the hub, for pulls to bring to VFX/.
func pushVFX(t *testing.T, h *testHub) {
	t.Helper()
	inbox := t.TempDir()
	writeMedia(t, filepath.Join(inbox, "VFX_010_v1.mxf"), 300<<10, 7)
	var p pushOut
	if r := h.runJSON(t, &p, "push", "--category", "vfx", "--dest-path", "VFX", filepath.Join(inbox, "VFX_010_v1.mxf")); r.code != 0 || p.Pushed != 1 {
		t.Fatalf("push: %s", r)
	}
}

// assertWholeDrive checks what a drive editkit wrote to after another tool
// prepared it must satisfy: the reference accepts it (verify, verify -dh
// for editkit's generation gen), editkit's verify passes in both modes
// with nothing "extra", and the checksum list holds every file.
func assertWholeDrive(t *testing.T, ref, drive, gen string, want []string) {
	t.Helper()
	if code, out := refVerify(t, ref, drive); code != 0 {
		t.Errorf("reference verify: exit %d\n%s", code, out)
	}
	refDirHashesMatch(t, ref, drive, gen)
	if got := checksumPaths(t, drive); !slices.Equal(got, want) {
		t.Errorf("checksums.b3sum lists %v, want %v", got, want)
	}
	if _, err := exec.LookPath("b3sum"); err == nil {
		cmd := exec.Command("b3sum", "--check", ".editkit/checksums.b3sum")
		cmd.Dir = drive
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("b3sum --check: %v\n%s", err, out)
		}
	} else {
		need(t, false, "b3sum")
	}
	for _, mode := range [][]string{{"--read-only", drive}, {"--read-only", "--mhl", drive}} {
		v, r := runVerify(t, mode...)
		if r.code != 0 || !v.OK || v.Verified != len(want) {
			t.Errorf("editkit verify %v: want all %d files intact and nothing extra:\n%s", mode, len(want), r)
		}
	}
}

// pull onto a drive prepared by the reference tool: the drive's files are
// adopted (verified, in the manifest and checksum list), the pull's
// generation records them verified and its hashes cover every folder, and
// the second pull does not read them again.
func TestMHLPullOntoForeignDrive(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	h := folderHub(t)
	pushVFX(t, h)
	drive := foreignDrive(t, ref, "xxh128", foreignFiles)

	var pl pullOut
	r := h.runJSON(t, &pl, "pull", drive)
	if r.code != 0 || pl.Pulled != 1 {
		t.Fatalf("pull: %s", r)
	}
	if a := adopted(t, r.stdout); a != 3 {
		t.Errorf("pull adopted %d of the drive's recorded files, want 3", a)
	}
	want := []string{"Clips/A001C001.mov", "Clips/A001C002.mov", "Sound/take1.wav", "VFX/VFX_010_v1.mxf"}
	entries := readHashEntries(t, genFile(t, drive, "0002_"))
	if got := slices.Sorted(maps.Keys(entries)); !slices.Equal(got, want) {
		t.Errorf("the pull's generation lists %v, want %v", got, want)
	}
	for p, e := range entries {
		wantAct := []string{"xxh128=verified"}
		if p == "VFX/VFX_010_v1.mxf" {
			wantAct = []string{"xxh128=original"}
		}
		if got := e.actions(); !slices.Equal(got, wantAct) {
			t.Errorf("%s: %v, want %v", p, got, wantAct)
		}
	}
	xmllintAll(t, filepath.Join(drive, "ascmhl"))
	assertWholeDrive(t, ref, drive, "0002", want)

	// Adopted once: the next pull reads nothing again and writes no
	// generation.
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || adopted(t, r.stdout) != -1 || pl.Present != 1 {
		t.Errorf("second pull: %s", r)
	}
	if m, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "0003_*")); len(m) != 0 {
		t.Errorf("a second pull with nothing new wrote %v", m)
	}
}

// A drive whose history another tool wrote in md5, one of its files
// damaged since: pull reports it (exit 1, named), never adopts it, records
// it failed in both formats while the intact ones get md5 and xxh128
// verified — and then the reference and editkit's verify agree the drive
// does not hold what was recorded. The report happens once: the history
// now says the file failed.
func TestMHLPullForeignDriveDamagedFile(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	h := folderHub(t)
	pushVFX(t, h)
	drive := foreignDrive(t, ref, "md5", foreignFiles)
	const bad = "Clips/A001C002.mov"
	flipTwoBytes(t, filepath.Join(drive, filepath.FromSlash(bad)))

	var pl pullOut
	r := h.runJSON(t, &pl, "pull", drive)
	if r.code != 1 || pl.Pulled != 1 {
		t.Fatalf("pull onto a drive with a damaged recorded file: want exit 1, the shot pulled\n%s", r)
	}
	var named bool
	for _, it := range pl.Items {
		named = named || it.Path == bad && it.Status == "damaged" && strings.Contains(it.Detail, "md5")
	}
	if !named {
		t.Errorf("pull does not name %s as damaged:\n%s", bad, r)
	}
	entries := readHashEntries(t, genFile(t, drive, "0002_"))
	for p, e := range entries {
		var wantAct []string
		switch p {
		case bad:
			wantAct = []string{"md5=failed", "xxh128=failed"}
		case "VFX/VFX_010_v1.mxf":
			wantAct = []string{"xxh128=original"}
		default:
			wantAct = []string{"md5=verified", "xxh128=verified"}
		}
		if got := e.actions(); !slices.Equal(got, wantAct) {
			t.Errorf("%s: %v, want %v", p, got, wantAct)
		}
	}
	if len(entries) != 4 {
		t.Errorf("the pull's generation lists %d files, want 4", len(entries))
	}
	if got := checksumPaths(t, drive); slices.Contains(got, bad) {
		t.Errorf("the damaged file is in the checksum list: %v", got)
	}
	if code, out := refVerify(t, ref, drive); code != 11 {
		t.Errorf("reference verify: exit %d, want 11\n%s", code, out)
	}
	for _, mode := range [][]string{{"--read-only", drive}, {"--read-only", "--mhl", drive}} {
		if _, r := runVerify(t, mode...); r.code != 1 || !strings.Contains(r.stdout, bad) {
			t.Errorf("editkit verify %v passes a drive holding a damaged file:\n%s", mode, r)
		}
	}
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || adopted(t, r.stdout) != -1 {
		t.Errorf("second pull reads or reports the damaged file again: %s", r)
	}
}

// copy onto a drive prepared by the reference tool has the same defect
// pull had: its generation and manifest held only the copied files.
func TestMHLCopyOntoForeignDrive(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	drive := foreignDrive(t, ref, "xxh128", foreignFiles)
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Project", "Show.avp"), 2000, 3)

	r := editkit(t, "--json", "copy", src, drive)
	if r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	var res struct {
		Destinations []json.RawMessage `json:"destinations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Destinations) != 1 {
		t.Fatalf("%v\n%s", err, r)
	}
	if a := adopted(t, string(res.Destinations[0])); a != 3 {
		t.Errorf("copy adopted %d of the drive's recorded files, want 3", a)
	}
	want := []string{"Clips/A001C001.mov", "Clips/A001C002.mov", "Project/Show.avp", "Sound/take1.wav"}
	assertWholeDrive(t, ref, drive, "0002", want)
}

// A source carrying a history of its own, copied to a drive whose history
// does not continue it (another tool's): the source's record was dropped
// without a word. copy now refuses before writing, naming both histories
// and the way out. Onto a drive that holds a continuation of the source's
// history (an earlier copy of it), copy goes on as before; when both went
// on since, it goes on and says the source's newer generations stay with
// the source.
func TestMHLCopySourceHistoryNotDropped(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	src := foreignDrive(t, ref, "xxh128", map[string]string{"Clips/B001C001.mov": "second unit"})
	other := foreignDrive(t, ref, "xxh128", foreignFiles)
	before := historyFiles(t, other)

	r := editkit(t, "copy", src, other)
	if r.code != 2 {
		t.Fatalf("copy of a source history onto a drive with an unrelated one: want exit 2\n%s", r)
	}
	for _, want := range []string{filepath.Join(src, "ascmhl"), filepath.Join(other, "ascmhl"), "cannot be carried", "without an ASC MHL history"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(other, "Clips", "B001C001.mov")); err == nil {
		t.Error("the refused copy wrote a file")
	}
	if after := historyFiles(t, other); !maps.Equal(before, after) {
		t.Error("the refused copy changed the drive's history")
	}

	fresh := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(fresh, 0o755)
	for i := range 2 {
		if r := editkit(t, "copy", src, fresh); r.code != 0 {
			t.Fatalf("copy %d onto a drive carrying the source's history: %s", i+1, r)
		}
	}
	if code, out := refVerify(t, ref, fresh); code != 0 {
		t.Errorf("reference verify: exit %d\n%s", code, out)
	}
	// The source's history gains a generation (verified again at the
	// source): the drive's copy of it went on with its own, so the new
	// one is not carried — and copy says so.
	if code, out := refMHL(t, ref, "run-ascmhl", "create", "-h", "xxh128", src); code != 0 {
		t.Fatalf("reference create: exit %d\n%s", code, out)
	}
	writeMedia(t, filepath.Join(src, "Clips", "B001C002.mov"), 3000, 5)
	r = editkit(t, "copy", src, fresh)
	if r.code != 0 || !strings.Contains(r.stdout, "describe the source, not this drive") {
		t.Errorf("copy of a source whose history went on since: want exit 0 and a note\n%s", r)
	}
	if code, out := refVerify(t, ref, fresh); code != 0 {
		t.Errorf("reference verify after the second copy: exit %d\n%s", code, out)
	}
}

// --allow-unportable onto exFAT with folders the drive confuses (Clips and
// clips): the second folder's files landed in the first, on the drive
// under names no record had (the reference then found a new file and two
// missing). Now the second folder is refused, its files failed and named,
// and nothing is on the drive that its records do not name.
func TestMHLCopyCollidingFoldersOntoExfat(t *testing.T) {
	ref := needRefTool(t)
	drive := mountExfat(t, "64M")
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Clips", "A.mxf"), 4096, 50)
	writeMedia(t, filepath.Join(src, "clips", "B.mxf"), 4096, 51)
	writeMedia(t, filepath.Join(src, "Sound", "s.wav"), 4096, 52)

	r := editkit(t, "--json", "copy", "--allow-unportable", src, drive)
	if r.code != 1 {
		t.Fatalf("copy with colliding folders onto exFAT: want exit 1\n%s", r)
	}
	var res offload.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	failed := map[string]string{}
	for _, f := range res.Destinations[0].Failed {
		failed[f.Path] = f.Err
	}
	if !strings.Contains(failed["clips/B.mxf"], "cannot keep both") {
		t.Errorf("clips/B.mxf not failed with the reason: %v", failed)
	}
	if des, _ := os.ReadDir(filepath.Join(drive, "Clips")); len(des) != 1 {
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		t.Errorf("Clips on the drive holds %v, want A.mxf alone", names)
	}
	if code, out := refVerify(t, ref, drive); code != 0 {
		t.Errorf("reference verify: exit %d (a file on the drive under a name no record has)\n%s", code, out)
	}
	if v, r := runVerify(t, "--read-only", drive); r.code != 0 || !v.OK {
		t.Errorf("verify: %s", r)
	}
}

// A name an ASC MHL history cannot record (a control character; ext4 and
// tmpfs hold it) let through by --allow-unportable was copied, and the
// drive's generation then failed as a whole: every file of the run was on
// the drive unrecorded. Now that file is refused and named; the others
// are recorded.
func TestMHLCopyUnrecordableName(t *testing.T) {
	ref := needRefTool(t)
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Day", "ok.wav"), 4096, 60)
	odd := "Day/bell\x07.wav"
	writeMedia(t, filepath.Join(src, filepath.FromSlash(odd)), 4096, 61)
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)

	r := editkit(t, "copy", "--allow-unportable", src, drive)
	if r.code != 1 || !strings.Contains(r.stdout, "cannot record this name") {
		t.Fatalf("copy of a name no ASC MHL history can record: want exit 1 naming it\n%s", r)
	}
	if _, err := os.Lstat(filepath.Join(drive, filepath.FromSlash(odd))); err == nil {
		t.Errorf("%q is on the drive, unrecorded", odd)
	}
	entries := readHashEntries(t, genFile(t, drive, "0001_"))
	if _, ok := entries["Day/ok.wav"]; !ok || len(entries) != 1 {
		t.Errorf("the generation lists %v, want Day/ok.wav", slices.Sorted(maps.Keys(entries)))
	}
	if code, out := refVerify(t, ref, drive); code != 0 {
		t.Errorf("reference verify: exit %d\n%s", code, out)
	}
}

// An editkit drive whose ASC MHL history was edited after the fact: pull
// and copy appended their generations to the tampered chain. Both now
// refuse before writing anything, name the tampered generation and the
// way out, and leave the history as it was.
func TestMHLPullCopyRefuseTamperedChain(t *testing.T) {
	ref := needRefTool(t)
	h := folderHub(t)
	pushVFX(t, h)
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Project", "Show.avp"), 2000, 3)
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	gen := genFile(t, drive, "0001_")
	b, _ := os.ReadFile(gen)
	i, j := strings.Index(string(b), "<hostname>"), strings.Index(string(b), "</hostname>")
	if i < 0 || j < i {
		t.Fatalf("%s has no hostname", gen)
	}
	os.WriteFile(gen, []byte(string(b[:i])+"<hostname>somebody-else"+string(b[j:])), 0o644)
	if code, out := refVerify(t, ref, drive); code != 31 {
		t.Fatalf("reference verify of the tampered drive: exit %d, want 31\n%s", code, out)
	}
	before := historyFiles(t, drive)

	writeMedia(t, filepath.Join(src, "Project", "Show 2.avp"), 2000, 4)
	for _, run := range []struct {
		name string
		code int
		r    func() result
	}{
		{"pull", 1, func() result { return h.run(t, "pull", drive) }},
		{"copy", 2, func() result { return editkit(t, "copy", src, drive) }},
	} {
		r := run.r()
		out := r.stdout + r.stderr
		if r.code != run.code {
			t.Errorf("%s onto a tampered history: want exit %d\n%s", run.name, run.code, r)
		}
		for _, want := range []string{"tampered", filepath.Base(gen), "restore the ascmhl folder from another copy"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", run.name, want, out)
			}
		}
		if after := historyFiles(t, drive); !maps.Equal(before, after) {
			t.Errorf("%s extended the tampered history: %v", run.name, slices.Sorted(maps.Keys(after)))
		}
	}
	for _, p := range []string{"VFX/VFX_010_v1.mxf", "Project/Show 2.avp"} {
		if _, err := os.Stat(filepath.Join(drive, filepath.FromSlash(p))); err == nil {
			t.Errorf("%s was written onto the drive with the tampered history", p)
		}
	}
}

// pull onto exFAT where the drive holds Clips and the catalog says clips/:
// the shot went into Clips, on the drive under a name no record has
// (verify: moved). pull now fails it, naming the folder, and writes nothing.
func TestMHLPullConfusedFolderOntoExfat(t *testing.T) {
	drive := mountExfat(t, "64M")
	if err := os.MkdirAll(filepath.Join(drive, "Clips"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := folderHub(t)
	inbox := t.TempDir()
	writeMedia(t, filepath.Join(inbox, "VFX_020.mxf"), 64<<10, 9)
	var p pushOut
	if r := h.runJSON(t, &p, "push", "--dest-path", "clips", filepath.Join(inbox, "VFX_020.mxf")); r.code != 0 || p.Pushed != 1 {
		t.Fatalf("push: %s", r)
	}
	var pl pullOut
	r := h.runJSON(t, &pl, "pull", drive)
	if r.code != 1 || pl.Pulled != 0 || !strings.Contains(r.stdout, "cannot keep both") {
		t.Fatalf("pull into a folder the drive confuses with Clips: want exit 1 naming it\n%s", r)
	}
	if des, _ := os.ReadDir(filepath.Join(drive, "Clips")); len(des) != 0 {
		t.Errorf("the shot landed in Clips: %v", des)
	}
	assertNoTemps(t, drive)
}
