package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// verify against ASC MHL histories, with the reference tool as the judge:
// what a history records is verified whatever its name, a drive verify
// has written to is one the reference accepts, renames (previousPath) and
// a good copy put back after a failure verify as the spec says, and a run
// that finds problems still appends its results.

// refCreate runs the reference tool's create with args on tree and wants
// exit code want.
func refCreate(t *testing.T, ref, tree string, want int, args ...string) {
	t.Helper()
	args = append(append([]string{"create"}, args...), tree)
	if code, out := refMHL(t, ref, "run-ascmhl", args...); code != want {
		t.Fatalf("reference %v: exit %d, want %d\n%s", args, code, want, out)
	}
}

// refVerifyDH is the reference tool's `verify -dh`, which also checks every
// generation's directory and root hashes. A root hash mismatch is printed
// as an ERROR without changing the exit code, so both are returned.
func refVerifyDH(t *testing.T, dir, tree string) (int, string) {
	t.Helper()
	return refMHL(t, dir, "run-ascmhl-debug", "verify", "-dh", tree)
}

// wantRefAccepts fails unless the reference tool's verify and verify -dh
// both accept tree, with no ERROR line.
func wantRefAccepts(t *testing.T, ref, tree, when string) {
	t.Helper()
	if code, out := refVerify(t, ref, tree); code != 0 {
		t.Errorf("%s: reference verify: exit %d, want 0\n%s", when, code, out)
	}
	if code, out := refVerifyDH(t, ref, tree); code != 0 || strings.Contains(out, "ERROR") {
		t.Errorf("%s: reference verify -dh: exit %d, want 0 and no ERROR\n%s", when, code, out)
	}
}

// A history (here the reference tool's) that records files editkit would
// never copy — an AppleDouble file, a Thumbs.db, something in a Windows
// recycle bin, a file a later generation's ignore pattern covers: verify
// checks them like any other file, instead of reporting them missing, and
// finds one that was changed.
func TestMHLVerifyRecordedJunkNames(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	tree := filepath.Join(t.TempDir(), "Card")
	writeTree(t, tree, map[string]string{
		"Clips/A001C001.mxf":    "picture",
		"Clips/._A001C001.mxf":  "resource fork",
		"Clips/Thumbs.db":       "thumbnails",
		"$RECYCLE.BIN/S-1/x.db": "deleted on a PC",
		"Clips/render.tmp":      "a render",
	})
	refCreate(t, ref, tree, 0)
	refCreate(t, ref, tree, 0, "-i", "*.tmp") // a later generation ignores *.tmp
	for _, mode := range [][]string{{"verify", "--read-only", tree}, {"verify", "--mhl", "--read-only", tree}} {
		r := editkit(t, mode...)
		if r.code != 0 || !strings.Contains(r.stdout, "5 of 5 files intact") {
			t.Errorf("%v: want all 5 recorded files verified, exit 0\n%s", mode, r)
		}
	}

	// Changed: both tools say so.
	flipTwoBytes(t, filepath.Join(tree, "Clips", "._A001C001.mxf"))
	flipTwoBytes(t, filepath.Join(tree, "Clips", "Thumbs.db"))
	if code, out := refVerify(t, ref, tree); code != 11 {
		t.Errorf("reference verify of the changed files: exit %d, want 11\n%s", code, out)
	}
	r := editkit(t, "verify", "--read-only", tree)
	if r.code != 1 {
		t.Errorf("verify of the changed files: want exit 1\n%s", r)
	}
	for _, p := range []string{"Clips/._A001C001.mxf", "Clips/Thumbs.db"} {
		if !strings.Contains(r.stdout, "modified      "+p) {
			t.Errorf("verify does not report %s modified:\n%s", p, r)
		}
	}
	if strings.Contains(r.stdout, "missing") {
		t.Errorf("verify reports a present file missing:\n%s", r)
	}
}

// After `ascmhl create` and `editkit verify`, the reference tool accepts the
// tree (editkit's .editkit folder is in the new generation's ignore list),
// and still does once Windows and Avid have left their folders and
// databases on the drive. A copied md5 card's drive passes the reference's
// directory-hash check too, before and after a verify.
func TestMHLVerifyDriveStaysAccepted(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	t.Run("foreign history", func(t *testing.T) {
		tree := filepath.Join(t.TempDir(), "Shoot")
		writeTree(t, tree, map[string]string{"Clips/A002C001.mov": "picture", "Sound/take1.wav": "sound"})
		refCreate(t, ref, tree, 0)
		if r := editkit(t, "verify", tree); r.code != 0 {
			t.Fatalf("verify: %s", r)
		}
		wantRefAccepts(t, ref, tree, "after editkit verify")
		writeTree(t, tree, map[string]string{
			"$RECYCLE.BIN/S-1-5-21/desktop.ini":            "recycle bin",
			"System Volume Information/IndexerVolumeGuid":  "indexer",
			".DocumentRevisions-V100/db-V1/db.sqlite":      "versions",
			"Avid MediaFiles/MXF/1/msmMMOB.mdb":            "avid database",
			"Avid MediaFiles/MXF/1/msmFMID.pmr":            "avid database",
			"Clips/._A002C001.mov":                         "resource fork",
			".editkit-tmp-0123456789abcdef":                "left by a killed copy",
			"Sound/Thumbs.db":                              "thumbnails",
			".Spotlight-V100/Store-V2/x/store.db":          "index",
			".fseventsd/0000000000000001":                  "events",
			".Trashes/501/old.mov":                         "trash",
			".TemporaryItems/folders.501/TemporaryItems/x": "temp",
		})
		if code, out := refVerify(t, ref, tree); code != 0 {
			t.Errorf("reference verify after Windows, macOS and Avid left their files: exit %d, want 0\n%s", code, out)
		}
	})
	t.Run("copied md5 card", func(t *testing.T) {
		card := filepath.Join(t.TempDir(), "Card")
		writeTree(t, card, map[string]string{"Clips/A003C001.mov": "picture", "Sound/take2.wav": "sound"})
		refCreate(t, ref, card, 0, "-h", "md5")
		drive := filepath.Join(t.TempDir(), "EDITOR4")
		os.Mkdir(drive, 0o755)
		if r := editkit(t, "copy", card, drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
		wantRefAccepts(t, ref, drive, "after copy")
		if r := editkit(t, "verify", drive); r.code != 0 {
			t.Fatalf("verify: %s", r)
		}
		wantRefAccepts(t, ref, drive, "after copy and verify")
		if r := editkit(t, "verify", "--mhl", drive); r.code != 0 {
			t.Fatalf("verify --mhl: %s", r)
		}
		wantRefAccepts(t, ref, drive, "after verify --mhl")
		xmllintAll(t, filepath.Join(drive, "ascmhl"))
	})
	// Avid's databases are ignored unless they were copied on purpose: then
	// the generations record them and are checked like any file. (Another
	// Avid database appearing later is then a new file to both tools: the
	// reference matches ignore patterns against absolute paths, so a
	// pattern cannot re-include one path.)
	t.Run("Avid databases copied", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "Show")
		writeTree(t, src, map[string]string{"Avid MediaFiles/MXF/1/V01.mxf": "proxy", "Avid MediaFiles/MXF/1/msmMMOB.mdb": "avid database"})
		drive := filepath.Join(t.TempDir(), "EDITOR7")
		os.Mkdir(drive, 0o755)
		if r := editkit(t, "copy", "--include-avid-db", src, drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
		if r := editkit(t, "verify", drive); r.code != 0 {
			t.Fatalf("verify: %s", r)
		}
		for _, gen := range []string{"0001_", "0002_"} {
			if _, ok := readHashEntries(t, genFile(t, drive, gen))["Avid MediaFiles/MXF/1/msmMMOB.mdb"]; !ok {
				t.Errorf("generation %s does not list the copied Avid database", gen)
			}
		}
		wantRefAccepts(t, ref, drive, "after copy --include-avid-db and verify")
	})
}

// A rename the reference tool recorded with previousPath (create -dr)
// verifies (spec 5.3.3: implementations shall support renaming); a rename
// editkit's verify finds itself ("moved") is recorded the same way, so the
// reference then accepts the drive. (Not `verify -dh`: a name is part of
// its folder's structure hash, so a rename changes the structure hashes
// of the generations before it — for the reference's own -dr too.)
func TestMHLVerifyRenames(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	t.Run("recorded by the reference", func(t *testing.T) {
		tree := filepath.Join(t.TempDir(), "Card")
		writeTree(t, tree, map[string]string{"Clips/A004C001.mov": "picture", "Sound/take3.wav": "sound"})
		refCreate(t, ref, tree, 0, "-h", "md5")
		if err := os.Rename(filepath.Join(tree, "Clips", "A004C001.mov"), filepath.Join(tree, "Clips", "A004C001_v2.mov")); err != nil {
			t.Fatal(err)
		}
		refCreate(t, ref, tree, 0, "-dr", "-h", "md5")
		if code, out := refVerify(t, ref, tree); code != 0 {
			t.Fatalf("reference verify of the renamed tree: exit %d\n%s", code, out)
		}
		r := editkit(t, "verify", "--mhl", tree)
		if r.code != 0 || strings.Contains(r.stdout, "missing") {
			t.Errorf("verify --mhl of a rename recorded with previousPath: want exit 0, nothing missing\n%s", r)
		}
		if code, out := refVerify(t, ref, tree); code != 0 {
			t.Errorf("reference verify after editkit verify: exit %d, want 0\n%s", code, out)
		}
	})
	for _, mode := range []string{"manifest", "mhl"} {
		t.Run("found by editkit, "+mode, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "Show")
			writeTree(t, src, map[string]string{"Avid MediaFiles/MXF/1/V01.mxf": "proxy one", "Project/Show.avp": "project"})
			drive := filepath.Join(t.TempDir(), "EDITOR5")
			os.Mkdir(drive, 0o755)
			if r := editkit(t, "copy", src, drive); r.code != 0 {
				t.Fatalf("copy: %s", r)
			}
			from, to := "Avid MediaFiles/MXF/1/V01.mxf", "Avid MediaFiles/MXF/1/V01.renamed.mxf"
			if err := os.Rename(filepath.Join(drive, filepath.FromSlash(from)), filepath.Join(drive, filepath.FromSlash(to))); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", drive}
			if mode == "mhl" {
				args = []string{"verify", "--mhl", drive}
			}
			r := editkit(t, args...)
			if r.code != 1 || !strings.Contains(r.stdout, "moved         "+from+" → "+to) {
				t.Fatalf("verify of a renamed file: want exit 1 and moved\n%s", r)
			}
			gen := newestGeneration(t, drive)
			b, err := os.ReadFile(gen)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "<previousPath>"+from+"</previousPath>") {
				t.Errorf("%s does not record the rename with previousPath:\n%s", filepath.Base(gen), b)
			}
			xmllintAll(t, filepath.Join(drive, "ascmhl"))
			if code, out := refVerify(t, ref, drive); code != 0 {
				t.Errorf("reference verify after editkit recorded the rename: exit %d, want 0\n%s", code, out)
			}
		})
	}
}

// A history that records a failed verification, after which a good copy of
// the file was put back: the reference tool accepts it (spec 5.6.4, note 2:
// the file is checked against its original hash again), and so does
// editkit, instead of "failed-before". Still damaged, it is "modified".
func TestMHLVerifyFailedThenRestored(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	tree := filepath.Join(t.TempDir(), "Card")
	writeTree(t, tree, map[string]string{"Clips/A005C001.mov": "picture", "Sound/take4.wav": "sound"})
	refCreate(t, ref, tree, 0)
	clip := filepath.Join(tree, "Clips", "A005C001.mov")
	good, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	flipTwoBytes(t, clip)
	refCreate(t, ref, tree, 11) // records the clip as failed
	if r := editkit(t, "verify", "--mhl", "--read-only", tree); r.code != 1 || !strings.Contains(r.stdout, "modified      Clips/A005C001.mov") {
		t.Errorf("verify of the still damaged clip: want exit 1, modified\n%s", r)
	}
	if err := os.WriteFile(clip, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := refVerify(t, ref, tree); code != 0 {
		t.Fatalf("reference verify after the good copy was put back: exit %d, want 0\n%s", code, out)
	}
	r := editkit(t, "verify", "--mhl", tree)
	if r.code != 0 || strings.Contains(r.stdout, "failed-before") {
		t.Errorf("verify after the good copy was put back: want exit 0\n%s", r)
	}
	entries := readHashEntries(t, newestGeneration(t, tree))
	if got := entries["Clips/A005C001.mov"].actions(); !slices.Equal(got, []string{"xxh128=verified"}) {
		t.Errorf("editkit's generation records the restored clip as %v, want xxh128=verified", got)
	}
}

// A verify that finds a changed file still appends its results (spec
// 5.6.4): the changed file "failed" with the hash it has now, the others
// "verified". The reference tool agrees the drive is damaged (11), in both
// of editkit's modes.
func TestMHLVerifyAppendsFailures(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	for _, mode := range []string{"manifest", "mhl"} {
		t.Run(mode, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "Show")
			writeTree(t, src, map[string]string{
				"Avid MediaFiles/MXF/1/V01.mxf": "proxy one",
				"Avid MediaFiles/MXF/1/V02.mxf": "proxy two",
				"Project/Show.avp":              "project",
			})
			drive := filepath.Join(t.TempDir(), "EDITOR6")
			os.Mkdir(drive, 0o755)
			if r := editkit(t, "copy", src, drive); r.code != 0 {
				t.Fatalf("copy: %s", r)
			}
			const bad = "Avid MediaFiles/MXF/1/V02.mxf"
			flipTwoBytes(t, filepath.Join(drive, filepath.FromSlash(bad)))
			args := []string{"verify", drive}
			if mode == "mhl" {
				args = []string{"verify", "--mhl", drive}
			}
			r := editkit(t, args...)
			if r.code != 1 || !strings.Contains(r.stdout, "modified      "+bad) {
				t.Fatalf("verify of a damaged file: want exit 1, modified\n%s", r)
			}
			gen := genFile(t, drive, "0002_")
			entries := readHashEntries(t, gen)
			if len(entries) != 3 {
				t.Errorf("%s lists %d files, want 3", filepath.Base(gen), len(entries))
			}
			for p, e := range entries {
				want := "xxh128=verified"
				if p == bad {
					want = "xxh128=failed"
				}
				if got := e.actions(); !slices.Equal(got, []string{want}) {
					t.Errorf("%s: %v, want %s", p, got, want)
				}
			}
			xmllintAll(t, filepath.Join(drive, "ascmhl"))
			if code, out := refVerify(t, ref, drive); code != 11 {
				t.Errorf("reference verify: exit %d, want 11\n%s", code, out)
			}
		})
	}
}

// A card whose history records files editkit's skip list leaves out (an
// AppleDouble file, a Thumbs.db, a file under a later generation's ignore
// pattern) is copied whole: the history carried to the drive never records
// a file the drive lacks, so both tools accept the drive. A name the user
// excludes is still left out, and said so.
func TestMHLCopyRecordedJunkNames(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	src := filepath.Join(t.TempDir(), "Card")
	writeTree(t, src, map[string]string{
		"Clips/A001C001.mxf":    "picture",
		"Clips/._A001C001.mxf":  "resource fork",
		"Clips/Thumbs.db":       "thumbnails",
		"$RECYCLE.BIN/S-1/x.db": "deleted on a PC",
		"Clips/render.tmp":      "a render",
	})
	refCreate(t, ref, src, 0)
	refCreate(t, ref, src, 0, "-i", "*.tmp")
	// Junk the card's history does not record stays behind, as before.
	writeTree(t, src, map[string]string{"Clips/._unrecorded.mxf": "later junk", ".DS_Store": "finder"})

	drive := t.TempDir()
	r := editkit(t, "copy", src, drive)
	if r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	for _, p := range []string{"Clips/._A001C001.mxf", "Clips/Thumbs.db", "$RECYCLE.BIN/S-1/x.db", "Clips/render.tmp"} {
		if _, err := os.Stat(filepath.Join(drive, filepath.FromSlash(p))); err != nil {
			t.Errorf("%s, recorded by the card's history, was not copied: %v", p, err)
		}
	}
	for _, p := range []string{"Clips/._unrecorded.mxf", ".DS_Store"} {
		if _, err := os.Stat(filepath.Join(drive, filepath.FromSlash(p))); err == nil {
			t.Errorf("%s, junk no history records, was copied", p)
		}
	}
	for _, mode := range [][]string{{"verify", "--read-only", drive}, {"verify", "--mhl", "--read-only", drive}} {
		if r := editkit(t, mode...); r.code != 0 || strings.Contains(r.stdout, "missing") {
			t.Errorf("%v: want every recorded file verified, exit 0\n%s", mode, r)
		}
	}
	// Not verify -dh: the card's second generation ignores *.tmp, which its
	// first recorded, and the reference's -dh fails on the card itself.
	if code, out := refVerify(t, ref, drive); code != 0 {
		t.Errorf("reference verify after copy: exit %d, want 0\n%s", code, out)
	}

	// --exclude still wins over the history: the file is left out, and the
	// drive's record says what the user chose (the card history's entry
	// for it is then reported missing by both tools, as it should be).
	drive2 := t.TempDir()
	r = editkit(t, "copy", "--exclude", "Thumbs.db", src, drive2)
	if _, err := os.Stat(filepath.Join(drive2, "Clips", "Thumbs.db")); err == nil {
		t.Errorf("copy --exclude Thumbs.db copied it anyway\n%s", r)
	}
}
