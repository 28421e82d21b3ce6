package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// withoutEnv is env less the named variables.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// tracker init --sheet remembers the Sheet (and its key) in the settings
// file, says where, and the next push writes its row to that Sheet, not
// to CSV files.
func TestE2ETrackerInitRemembersSheet(t *testing.T) {
	te := newTrackerEnv(t)
	key := envValue(te.env, "GOOGLE_APPLICATION_CREDENTIALS")
	env := withoutEnv(te.env, "EDITKIT_SHEET", "GOOGLE_APPLICATION_CREDENTIALS")
	r := editkitEnv(t, env, "tracker", "init", "--sheet", te.sheet, "--google-credentials", key)
	settings := filepath.Join(envValue(env, "XDG_CONFIG_HOME"), "editkit", "config.toml")
	if r.code != 0 || !strings.Contains(r.stdout, "Tracker ready: Google Sheet "+te.sheet) || !strings.Contains(r.stdout, settings) {
		t.Fatalf("tracker init --sheet must say where it saved the Sheet (%s): %s", settings, r)
	}
	media := filepath.Join(t.TempDir(), "SFX_01.wav")
	writeMedia(t, media, 10<<10, 1)
	if r := editkitEnv(t, env, "push", "--category", "sfx", "--dest-path", "SFX", media); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	if _, rows := te.logIDs(t); rows != 1 {
		t.Errorf("the Sheet's Log has %d rows after one push, want 1: the push did not use the Sheet tracker init was given", rows)
	}
	if csvs, _ := filepath.Glob(filepath.Join(envValue(env, "EDITKIT_STATE_DIR"), "tracker", "*.csv")); len(csvs) != 0 {
		t.Errorf("push wrote CSV files %v although a Sheet was set up", csvs)
	}
	if r := editkitEnv(t, env, "tracker", "init"); r.code != 0 || !strings.Contains(r.stdout, te.sheet) || strings.Contains(r.stdout, "Saved") {
		t.Errorf("tracker init again, without flags, uses the remembered Sheet and saves nothing: %s", r)
	}
}

// push of a file outside the media root (or with none set) and no
// --dest-path goes to its category's folder, or the one the settings file
// names for the category, and says where it went.
func TestE2EPushDefaultsToCategoryFolder(t *testing.T) {
	dir := t.TempDir()
	h := &testHub{name: "folder", url: dir, dir: dir, env: stateEnv(t)}
	inbox := t.TempDir()
	shot := filepath.Join(inbox, "VFX_010_v1.mxf")
	writeMedia(t, shot, 10<<10, 1)
	r := h.run(t, "push", "--category", "vfx", shot)
	if r.code != 0 || !strings.Contains(r.stdout, "VFX/VFX_010_v1.mxf") || !strings.Contains(r.stderr, "goes to VFX/VFX_010_v1.mxf") {
		t.Fatalf("push without --dest-path or media root: %s", r)
	}

	settings := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(settings, []byte("media_root = \""+t.TempDir()+"\"\n\n[push]\nfolders = { music = \"Audio/Music\" }\n"), 0o600)
	cue := filepath.Join(inbox, "Score 1M1.wav")
	writeMedia(t, cue, 10<<10, 2)
	var p pushOut
	if r := h.runJSON(t, &p, "--config", settings, "push", "--category", "music", cue); r.code != 0 || len(p.Items) != 1 || p.Items[0].Path != "Audio/Music/Score 1M1.wav" {
		t.Fatalf("push from outside the media root with [push] folders: %s", r)
	}
}

// backup's progress counts bytes and files as they are stored on the hub,
// not as they are hashed: the line never says every byte is done while
// files are still uploading (it said "100% … 0 of 7 files" for the whole
// upload).
func TestE2EBackupProgressCountsStoredFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Project")
	for i := 1; i <= 7; i++ {
		writeMedia(t, filepath.Join(src, fmt.Sprintf("reel%d.mov", i)), i<<20, byte(i))
	}
	dir := t.TempDir()
	h := &testHub{name: "folder", url: dir, dir: dir, env: append(stateEnv(t), "EDITKIT_LOG_INTERVAL=50ms")}
	// Paced so the upload, not the hashing, takes the time, as over a
	// real uplink.
	r := h.run(t, "backup", "--bwlimit", "8MB/s", src)
	if r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	line := regexp.MustCompile(`backup: +(\d+)% \S+ \S*B of \S+ \S*B, (\d+) of (\d+) files`)
	var lines, stuck, moving int
	for _, m := range line.FindAllStringSubmatch(r.stderr, -1) {
		lines++
		pct, _ := strconv.Atoi(m[1])
		done, _ := strconv.Atoi(m[2])
		files, _ := strconv.Atoi(m[3])
		if pct == 100 && done < files {
			stuck++
		}
		if pct > 0 && pct < 100 {
			moving++
		}
	}
	if lines == 0 || moving == 0 {
		t.Fatalf("no progress lines during the upload:\n%s", r.stderr)
	}
	// One line may fall between a file's last byte stored and its count.
	if stuck > 1 {
		t.Errorf("%d progress lines say every byte is done while files are still being stored:\n%s", stuck, r.stderr)
	}
}

// A hub folder that does not exist is refused (it may be an unmounted NAS
// share, which must not become an empty folder on the local disk), and the
// message says both ways out: mount it, or create a new hub with hub init.
func TestE2EMissingHubFolderSaysHowToCreateOne(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "NAS", "hub")
	r := editkitEnv(t, stateEnv(t), "status", "--hub", missing)
	if r.code == 0 || !strings.Contains(r.stderr, "editkit hub init "+missing) || !strings.Contains(r.stderr, "mount") {
		t.Fatalf("a missing hub folder must be refused, saying how to create a hub there: %s", r)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the refused hub folder was created: %v", err)
	}
}
