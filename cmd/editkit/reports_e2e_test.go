package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/report/browsertest"
)

// hostileName is a media file name that is markup: every page must show it
// as text, never run or build it.
const hostileName = `<script>alert(1)<img src=x onerror=alert(2)>.mov`

// onlyReport is the one report of a kind ("copy", "verify") on a drive.
func onlyReport(t *testing.T, drive, kind, ext string) string {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join(drive, ".editkit", "reports", kind+"_*."+ext))
	if len(found) != 1 {
		t.Fatalf("want one %s report (.%s) on %s, found %v", kind, ext, drive, found)
	}
	return found[0]
}

// Copy and verify each leave an HTML report beside the text one, readable
// in a browser on a phone: the verdict at the top, the drive, every
// problem, a hostile file name shown as text.
func TestE2EDriveReportsInChromium(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Show")
	writeMedia(t, filepath.Join(src, "Proxies", "Day01", "A001.mov"), 300<<10, 1)
	writeMedia(t, filepath.Join(src, "Proxies", "Day01", "A002.mov"), 200<<10, 2)
	writeMedia(t, filepath.Join(src, "Audio", hostileName), 1000, 3)
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := editkit(t, "copy", "--allow-unportable", "--label", "Anna", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	html := onlyReport(t, drive, "copy", "html")
	if fi, err := os.Stat(html); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the HTML report must be readable by every user (0644): %v %v", fi.Mode(), err)
	}
	browsertest.Check(t, html, "Copied and verified: 3 files, 501.0 KiB, no problems", "Anna", "Proxies/Day01 2 500.0 KiB", hostileName)

	if err := os.WriteFile(filepath.Join(drive, "Proxies", "Day01", "A002.mov"), make([]byte, 200<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := editkit(t, "verify", drive); r.code != 1 {
		t.Fatalf("verify of a changed file must fail: %s", r)
	}
	browsertest.Check(t, onlyReport(t, drive, "verify", "html"), "Verified: 2 of 3 files", "1 problem", "modified Proxies/Day01/A002.mov", hostileName, "Anna")
}

// status --html writes the team page: who has which media, what each drive
// lacks, the last backups and the review media that will expire.
func TestE2ETeamPageInChromium(t *testing.T) {
	dir := t.TempDir()
	h := &testHub{name: "folder", url: dir, dir: dir, env: stateEnv(t)}
	inbox := t.TempDir()
	writeMedia(t, filepath.Join(inbox, "VFX_010_v1.mxf"), 100<<10, 1)
	// push refuses names exFAT cannot hold (< >); & and ' must still
	// come out as text.
	review := "R&D 'cut' v7.mov"
	writeMedia(t, filepath.Join(inbox, review), 2000, 2)
	if r := h.run(t, "push", "--category", "vfx", "--dest-path", "VFX", filepath.Join(inbox, "VFX_010_v1.mxf")); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	src := projectTree(t, 7, 1<<20)
	anna := filepath.Join(t.TempDir(), "EDITOR1")
	ben := filepath.Join(t.TempDir(), "EDITOR2")
	for label, drive := range map[string]string{"Anna": anna, "Ben": ben} {
		os.Mkdir(drive, 0o755)
		if r := editkitEnv(t, append(h.env, "EDITKIT_HUB="+h.url), "copy", "--label", label, src, drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
	}
	if r := h.run(t, "pull", anna); r.code != 0 {
		t.Fatalf("pull: %s", r)
	}
	if r := h.run(t, "push", "--category", "footage", "--expires", "14d", "--dest-path", "Review", filepath.Join(inbox, review)); r.code != 0 {
		t.Fatalf("push review media: %s", r)
	}
	if r := h.run(t, "backup", "--set", "avid", src); r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	page := filepath.Join(t.TempDir(), "team.html")
	if r := h.run(t, "status", "--html", page); r.code != 0 || !strings.Contains(r.stdout+r.stderr, page) {
		t.Fatalf("status --html: %s", r)
	}
	browsertest.Check(t, page, "2 media items, 2 drives: 2 lack media",
		"Anna", "has 1, lacks 1 (2.0 KiB)", "Ben", "has 0, lacks 2",
		"VFX/VFX_010_v1.mxf", "Review/"+review+": expires", "avid :")
}
