package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/purge"
	"github.com/zeebo/blake3"
)

type purgeOut struct {
	OK bool `json:"ok"`
	purge.Result
}

// reviewDrive pushes review media (two cuts expiring in 14 and 30 days,
// category footage) and a VFX shot that never expires to hub h, and
// prepares a drive: a project copied onto it, then the media pulled.
func reviewDrive(t *testing.T, h *testHub) (drive, inbox string) {
	t.Helper()
	inbox = t.TempDir()
	writeMedia(t, filepath.Join(inbox, "Reel1_v7.mov"), 300<<10, 1)
	writeMedia(t, filepath.Join(inbox, "Reel2_v3.mov"), 200<<10, 2)
	writeMedia(t, filepath.Join(inbox, "VFX_010.mxf"), 100<<10, 3)
	var p pushOut
	for _, push := range [][]string{
		{"--category", "footage", "--expires", "14d", "--dest-path", "Review", filepath.Join(inbox, "Reel1_v7.mov")},
		{"--category", "footage", "--expires", "30d", "--dest-path", "Review", filepath.Join(inbox, "Reel2_v3.mov")},
		{"--category", "vfx", "--dest-path", "Avid MediaFiles/MXF/7", filepath.Join(inbox, "VFX_010.mxf")},
	} {
		if r := h.runJSON(t, &p, append([]string{"push"}, push...)...); r.code != 0 || p.Pushed != 1 {
			t.Fatalf("push %v: %s", push, r)
		}
	}
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Project", "Show.avp"), 4<<10, 4)
	writeMedia(t, filepath.Join(src, "Project", "Bins", "Reel 1.avb"), 8<<10, 5)
	drive = filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := editkitEnv(t, h.env, "copy", "--label", "Anna", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	var pl pullOut
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 3 {
		t.Fatalf("pull: %s", r)
	}
	return drive, inbox
}

// ahead runs editkit with its clock d ahead (test builds only).
func (h *testHub) ahead(d time.Duration) *testHub {
	c := *h
	c.env = append(slices.Clone(h.env), "EDITKIT_TEST_CLOCK_AHEAD="+d.String())
	return &c
}

// readCSVFile reads one of the CSV tracker's files.
func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// purgedRows lists the Path of the CSV tracker's "purged" rows, sorted.
func purgedRows(t *testing.T, h *testHub) []string {
	t.Helper()
	rows := trackerRows(t, envValue(h.env, "EDITKIT_STATE_DIR"))
	if len(rows) == 0 {
		return nil
	}
	ai, pi := slices.Index(rows[0], "Action"), slices.Index(rows[0], "Path")
	var out []string
	for _, r := range rows[1:] {
		if r[ai] == "purged" {
			out = append(out, r[pi])
		}
	}
	slices.Sort(out)
	return out
}

// treeState is every file under root, editkit's and the history's
// included, with its content hash, size and mtime.
func treeState(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%x %d %d", blake3.Sum256(b), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mediaLeft lists the media still on a drive (what editkit keeps there
// left out).
func mediaLeft(t *testing.T, drive string) []string {
	t.Helper()
	var out []string
	for p := range fileHashes(t, drive, destRules) {
		first, _, _ := strings.Cut(p, "/")
		if first != ".editkit" && first != "ascmhl" {
			out = append(out, p)
		}
	}
	return out
}

func present(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// Review media goes when it expires, on the record: status shows what
// expires where; --dry-run changes nothing; purge --expired removes only
// what expired, and verify afterwards passes and lists it as purged, the
// reference tool agrees, the catalog and the tracker know (one row per
// purged file); then a category, then everything. On a folder hub and on
// the real S3 server.
func TestPurgeExpiredCategoryAll(t *testing.T) {
	hubs(t, purgeExpiredCategoryAll)
}

func purgeExpiredCategoryAll(t *testing.T, h *testHub) {
	drive, inbox := reviewDrive(t, h)
	ref := needRefTool(t)
	reel1, reel2 := filepath.Join(drive, "Review", "Reel1_v7.mov"), filepath.Join(drive, "Review", "Reel2_v3.mov")
	later := h.ahead(15 * 24 * time.Hour)

	var st catalog.Status
	if r := later.runJSON(t, &st, "status"); r.code != 0 || len(st.Expiring) != 1 || len(st.Expiring[0].Items) != 2 ||
		!st.Expiring[0].Items[0].Expired || st.Expiring[0].Items[0].Path != "Review/Reel1_v7.mov" || st.Expiring[0].Items[1].Expired {
		t.Fatalf("status --json, 15 days on: %+v\n%s", st.Expiring, r)
	}
	if r := later.run(t, "status"); !strings.Contains(r.stdout, "Anna (") || !strings.Contains(r.stdout, "1 expired and still there") ||
		!strings.Contains(r.stdout, "EXPIRED 24h00m ago         Review/Reel1_v7.mov") || !strings.Contains(r.stdout, "expires in 14 days         Review/Reel2_v3.mov") {
		t.Fatalf("status text does not say what expires where: %s", r)
	}

	before := treeState(t, drive)
	var res purgeOut
	if r := later.runJSON(t, &res, "purge", "--expired", "--dry-run", drive); r.code != 0 || len(res.Items) != 1 || res.Items[0].Status != "would-purge" {
		t.Fatalf("dry run: %s", r)
	}
	if after := treeState(t, drive); !maps.Equal(before, after) {
		t.Fatal("--dry-run changed the drive")
	}
	if r := h.runJSON(t, &res, "purge", "--expired", drive); r.code != 0 || len(res.Items) != 0 {
		t.Fatalf("nothing has expired yet, yet: %s", r)
	}

	if r := later.runJSON(t, &res, "purge", "--expired", drive); r.code != 0 || res.Purged != 1 || res.Items[0].Path != "Review/Reel1_v7.mov" || res.MHL == "" {
		t.Fatalf("purge --expired: %s", r)
	}
	if present(t, reel1) || !present(t, reel2) {
		t.Fatal("purge --expired removed the wrong files")
	}
	v, r := runVerify(t, drive)
	if r.code != 0 || !v.OK || len(v.Purged) != 1 || v.Purged[0].Path != "Review/Reel1_v7.mov" {
		t.Fatalf("verify after purge: %s", r)
	}
	if r := editkit(t, "verify", "--read-only", drive); !strings.Contains(r.stdout, "purged on purpose") || !strings.Contains(r.stdout, "Review/Reel1_v7.mov") {
		t.Fatalf("verify does not say what was purged: %s", r)
	}
	if v, r := runVerify(t, "--mhl", "--read-only", drive); r.code != 0 || len(v.Purged) != 1 {
		t.Fatalf("verify --mhl after purge: %s", r)
	}
	// The reference tool: the generation the purge wrote ignores the
	// purged file, so it is not missing (exit 0), and the rest verifies.
	if code, out := refVerify(t, ref, drive); code != 0 {
		t.Fatalf("reference verify after purge: exit %d\n%s", code, out)
	}
	xmllintAll(t, filepath.Join(drive, "ascmhl"))
	if got := purgedRows(t, h); !slices.Equal(got, []string{"Review/Reel1_v7.mov"}) {
		t.Fatalf("tracker purged rows: %v", got)
	}
	// The tracker's media × drive matrix says the drive no longer has it.
	media := readCSVFile(t, filepath.Join(envValue(h.env, "EDITKIT_STATE_DIR"), "tracker", "media.csv"))
	pi, ai := slices.Index(media[0], "Path"), slices.Index(media[0], "Anna")
	for _, row := range media[1:] {
		if row[pi] == "Review/Reel1_v7.mov" && !strings.HasPrefix(row[ai], "purged ") {
			t.Fatalf("media.csv, Anna's cell for the purged reel: %q", row[ai])
		}
	}
	if r := later.runJSON(t, &st, "status"); r.code != 0 || len(st.Expiring) != 1 || len(st.Expiring[0].Items) != 1 {
		t.Fatalf("status after the purge still has the purged copy: %+v", st.Expiring)
	}

	// Kept after all: pushed again with --expires never, it no longer
	// expires, for every editor.
	var p pushOut
	if r := h.runJSON(t, &p, "push", "--expires", "never", "--dest-path", "Review", filepath.Join(inbox, "Reel2_v3.mov")); r.code != 0 || p.Items[0].Status != "expiry" {
		t.Fatalf("push --expires never: %s", r)
	}
	if r := h.ahead(60*24*time.Hour).runJSON(t, &res, "purge", "--expired", drive); r.code != 0 || len(res.Items) != 0 || !present(t, reel2) {
		t.Fatalf("purge --expired removed media that no longer expires: %s", r)
	}
	if r := h.runJSON(t, &res, "purge", "--category", "footage", drive); r.code != 0 || res.Purged != 1 || present(t, reel2) {
		t.Fatalf("purge --category: %s", r)
	}
	if r := h.runJSON(t, &res, "purge", "--all", drive); r.code != 0 || res.Purged != 3 {
		t.Fatalf("purge --all: %s", r)
	}
	if left := mediaLeft(t, drive); len(left) != 0 {
		t.Fatalf("after --all, still on the drive: %v", left)
	}
	if v, r := runVerify(t, drive); r.code != 0 || len(v.Purged) != 5 {
		t.Fatalf("verify after purge --all: %s", r)
	}
	// With no file left, the reference verify exits 20 "Could not find
	// single file" whatever the history says (it counts a file found as
	// the single file asked for even when none was); nothing is missing,
	// and its diff agrees.
	if code, out := refVerify(t, ref, drive); code != 20 || strings.Contains(out, "missing") {
		t.Fatalf("reference verify after purge --all: exit %d\n%s", code, out)
	}
	if code, out := refMHL(t, ref, "run-ascmhl", "diff", drive); code != 0 {
		t.Fatalf("reference diff after purge --all: exit %d\n%s", code, out)
	}
	if got := purgedRows(t, h); len(got) != 5 {
		t.Fatalf("tracker purged rows: %v", got)
	}
	// Pulled again, the media is verified again (not ignored) by both.
	// Expired review media is not pulled again; the rest is.
	var pl pullOut
	if r := later.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 2 || present(t, reel1) || !strings.Contains(r.stdout, `"status": "expired"`) {
		t.Fatalf("pull after purge, 15 days on: %s", r)
	}
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 1 {
		t.Fatalf("pull after purge: %s", r)
	}
	if v, r := runVerify(t, drive); r.code != 0 || v.Files != 3 || len(v.Purged) != 2 {
		t.Fatalf("verify after pulling back: %s", r)
	}
	if code, out := refVerify(t, ref, drive); code != 0 {
		t.Fatalf("reference verify after pulling back: exit %d\n%s", code, out)
	}
}

// Purge never removes a file editkit did not place, or one changed since,
// unless --force, and never anything through a link, forced or not.
func TestPurgeRefusesForeignChangedAndLinks(t *testing.T) {
	h := folderHub(t)
	drive, _ := reviewDrive(t, h)
	avp := filepath.Join(drive, "Project", "Show.avp")
	os.WriteFile(avp, []byte("the editor saved the project since"), 0o644)
	foreign := filepath.Join(drive, "Project", "Bins", "Anna's bin.avb")
	os.WriteFile(foreign, []byte("the editor's own bin"), 0o644)
	// A folder editkit placed into, replaced by a link to one outside.
	outside := t.TempDir()
	mxf := filepath.Join(drive, "Avid MediaFiles", "MXF", "7")
	if err := os.Rename(mxf, filepath.Join(outside, "7")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "7"), mxf); err != nil {
		t.Fatal(err)
	}

	var res purgeOut
	r := h.runJSON(t, &res, "purge", drive, "Project", "Avid MediaFiles")
	if r.code != 1 || res.Purged != 1 || res.Skipped != 3 {
		t.Fatalf("purge with a changed, a foreign and a linked file: %s", r)
	}
	why := map[string]string{}
	for _, it := range res.Items {
		why[it.Path] = it.Status + ": " + it.Detail
	}
	if !strings.Contains(why["Project/Show.avp"], "changed since") || !strings.Contains(why["Project/Bins/Anna's bin.avb"], "did not place") ||
		!strings.Contains(why["Avid MediaFiles/MXF/7/VFX_010.mxf"], "symbolic link") || !strings.HasPrefix(why["Project/Bins/Reel 1.avb"], "purged") {
		t.Fatalf("reasons: %v", why)
	}
	if !present(t, avp) || !present(t, foreign) || !present(t, filepath.Join(outside, "7", "VFX_010.mxf")) {
		t.Fatal("a refused file was removed")
	}
	r = h.runJSON(t, &res, "purge", "--force", drive, "Project", "Avid MediaFiles")
	if r.code != 1 || res.Purged != 2 || res.Skipped != 1 || present(t, avp) || present(t, foreign) {
		t.Fatalf("--force: %s", r)
	}
	if !present(t, filepath.Join(outside, "7", "VFX_010.mxf")) {
		t.Fatal("--force removed a file through a link")
	}
}

// A purge killed after removing a file, then killed again after its
// events were kept, finishes when run again: every file gone, recorded
// once in the manifest and the tracker, verify clean.
func TestPurgeKilledThenRerunReportsOnce(t *testing.T) {
	h := folderHub(t)
	drive, _ := reviewDrive(t, h)
	for _, at := range []string{"purge:unlinked", "purge:removed", "purge:recorded"} {
		r := editkitEnv(t, append(slices.Clone(h.env), "EDITKIT_TEST_KILL_AT="+at), "purge", "--all", drive, "--hub", h.url)
		if r.code != -1 && r.code != 137 {
			t.Fatalf("purge killed at %s: %s", at, r)
		}
		if at != "purge:unlinked" {
			continue
		}
		// Gone, not yet recorded: verify says how to finish.
		v, r := runVerify(t, "--read-only", drive)
		if r.code != 1 || len(v.Problems) != 1 || !strings.Contains(v.Problems[0].Detail, "run the same purge again") {
			t.Fatalf("verify after a purge killed mid-file: %s", r)
		}
	}
	var res purgeOut
	if r := h.runJSON(t, &res, "purge", "--all", drive); r.code != 0 {
		t.Fatalf("purge after two kills: %s", r)
	}
	if left := mediaLeft(t, drive); len(left) != 0 {
		t.Fatalf("still on the drive: %v", left)
	}
	want := []string{"Avid MediaFiles/MXF/7/VFX_010.mxf", "Project/Bins/Reel 1.avb", "Project/Show.avp", "Review/Reel1_v7.mov", "Review/Reel2_v3.mov"}
	if got := purgedRows(t, h); !slices.Equal(got, want) {
		t.Fatalf("tracker purged rows (each exactly once): %v", got)
	}
	if v, r := runVerify(t, drive); r.code != 0 || len(v.Purged) != 5 {
		t.Fatalf("verify: %s", r)
	}
}
