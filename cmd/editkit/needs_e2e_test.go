package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/aaf"
	"github.com/editkit/editkit/internal/aaf/aaftest"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/mxf/mxftest"
)

// cutFixture is a media RAID, the clips' MXF files by name, and an AAF
// exported from it.
type cutFixture struct {
	raid  string
	files map[string]string   // "A001C001.V1" → path
	info  map[string]mxf.Info // same keys
	aaf   string
}

// makeCutFixture builds the RAID (Avid clips on tapes A001 and B002, an
// audio-only clip, a clip written without UMIDs, a project file) and an AAF
// whose sequences use some of it: R1 (some clips of reel A001, one twice,
// picture and sound), SOUND (audio only) and R2 (nesting SOUND, plus a clip
// whose media is on no drive and in no hub).
func makeCutFixture(t *testing.T) *cutFixture {
	t.Helper()
	fx := &cutFixture{raid: filepath.Join(t.TempDir(), "Show"), files: map[string]string{}, info: map[string]mxf.Info{}}
	mxfDir := filepath.Join(fx.raid, "Avid MediaFiles", "MXF", "1")
	proj := filepath.Join(fx.raid, "Avid Projects", "Show")
	for _, d := range []string{mxfDir, proj} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(proj, "Show.avp"), []byte("project"), 0o644); err != nil {
		t.Fatal(err)
	}
	add := func(dir, name string, o mxftest.Opts) {
		paths, infos := mxftest.Clip(t, dir, name, o)
		for i, p := range paths {
			key := strings.TrimSuffix(filepath.Base(p), ".mxf")
			fx.files[key], fx.info[key] = p, infos[i]
		}
	}
	add(mxfDir, "A001C001", mxftest.Opts{Tape: "A001", Timecode: "01:00:00:00"})
	add(mxfDir, "A001C002", mxftest.Opts{Tape: "A001", Timecode: "01:00:10:00"})
	add(mxfDir, "A001C003", mxftest.Opts{Tape: "A001", Timecode: "01:00:20:00"})
	add(mxfDir, "B002C001", mxftest.Opts{Tape: "B002", NoVideo: true, Timecode: "02:00:00:00"})
	add(mxfDir, "NOUMIDS", mxftest.Opts{NoUMIDs: true})
	add(t.TempDir(), "Z009C009", mxftest.Opts{Tape: "Z009", Audio: -1}) // on no drive, in no hub

	media := []string{fx.files["A001C001.V1"], fx.files["A001C002.V1"], fx.files["A001C001.A1"],
		fx.files["B002C001.A1"], fx.files["Z009C009.V1"]}
	fx.aaf = filepath.Join(t.TempDir(), "Turnover.aaf")
	aaftest.Make(t, fx.aaf, aaftest.Spec{Media: media, SectorSize: 512, Compositions: []aaftest.Composition{
		{Name: "R1", Tracks: []aaftest.Track{
			{Kind: "picture", Clips: []aaftest.Clip{{Media: 0}, {Media: 1}, {Media: 0, Start: 1}}},
			{Kind: "sound", Clips: []aaftest.Clip{{Media: 2}}},
		}},
		{Name: "SOUND", Tracks: []aaftest.Track{{Kind: "sound", Clips: []aaftest.Clip{{Media: 3}}}}},
		{Name: "R2", Tracks: []aaftest.Track{
			{Kind: "picture", Clips: []aaftest.Clip{{Media: 4}}},
			{Kind: "sound", Clips: []aaftest.Clip{{Nested: "SOUND"}}},
		}},
	}})
	return fx
}

// oracleFiles names the fixture files whose file package UMIDs pyaaf2
// reads from the AAF for sequence ("" for all), and how many UMIDs it read
// that no fixture file on the RAID has.
func (fx *cutFixture) oracleFiles(t *testing.T, sequence string) ([]string, int) {
	t.Helper()
	byUMID := map[mxf.UMID]string{}
	for k, inf := range fx.info {
		if !strings.HasPrefix(k, "Z009") && !inf.FilePackage.IsZero() {
			byUMID[inf.FilePackage] = k
		}
	}
	set, unknown := map[string]bool{}, map[mxf.UMID]bool{}
	for name, ids := range aaftest.Oracle(t, fx.aaf) {
		if sequence != "" && name != sequence {
			continue
		}
		for _, s := range ids {
			var m aaf.MobID
			b, _ := hex.DecodeString(s)
			copy(m[:], b)
			if k, ok := byUMID[m.UMID()]; ok {
				set[k] = true
			} else {
				unknown[m.UMID()] = true
			}
		}
	}
	return sortedSet(set), len(unknown)
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mediaNames returns the clip file names (without .mxf) under root/Avid
// MediaFiles.
func mediaNames(t *testing.T, root string) []string {
	t.Helper()
	set := map[string]bool{}
	filepath.WalkDir(filepath.Join(root, "Avid MediaFiles"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mxf") {
			set[strings.TrimSuffix(filepath.Base(p), ".mxf")] = true
		}
		return nil
	})
	return sortedSet(set)
}

type needsOut struct {
	OK    bool `json:"ok"`
	Media []struct {
		Path   string   `json:"path"`
		Size   int64    `json:"size"`
		InHub  bool     `json:"in_hub"`
		Drives []string `json:"drives"`
	} `json:"media"`
	Drives []struct {
		Label        string `json:"label"`
		MissingBytes int64  `json:"missing_bytes"`
		Missing      []struct {
			Path string `json:"path"`
		} `json:"missing"`
	} `json:"drives"`
	Unknown   []json.RawMessage `json:"unknown"`
	Ambiguous []struct {
		Paths []string `json:"paths"`
	} `json:"ambiguous"`
}

func (n needsOut) names() []string {
	set := map[string]bool{}
	for _, m := range n.Media {
		set[strings.TrimSuffix(path.Base(m.Path), ".mxf")] = true
	}
	return sortedSet(set)
}

// TestE2ENeedsCut: an AAF made by pyaaf2 the way Avid links MXF media is
// read by needs, copy --for and pull --for, which name and bring exactly
// the files whose UMIDs pyaaf2 reads back; what no one has is listed as
// unknown; EDL and OTIO files written for the same sequence give the same
// list; a damaged AAF is refused with exit 2.
func TestE2ENeedsCut(t *testing.T) {
	fx := makeCutFixture(t)
	wantR1, _ := fx.oracleFiles(t, "R1")
	wantAll, unknownAll := fx.oracleFiles(t, "")
	if fmt.Sprint(wantR1) != "[A001C001.A1 A001C001.V1 A001C002.V1]" || unknownAll != 1 {
		t.Fatalf("fixture: pyaaf2 reads R1 %v, all %v with %d unknown", wantR1, wantAll, unknownAll)
	}

	// copy --for: only what the whole cut uses, plus the project; the
	// clip on no drive is named and makes the exit code 1.
	d2 := filepath.Join(t.TempDir(), "DIRECTOR")
	os.MkdirAll(d2, 0o755)
	r := editkit(t, "copy", "--for", fx.aaf, "--include", "Avid Projects/", fx.raid, d2)
	if r.code != 1 || !strings.Contains(r.stderr, "Z009C009") {
		t.Fatalf("copy --for with a clip the RAID lacks: want exit 1 naming it\n%s", r)
	}
	if got := mediaNames(t, d2); fmt.Sprint(got) != fmt.Sprint(wantAll) {
		t.Errorf("copy --for copied %v, pyaaf2 reads %v", got, wantAll)
	}
	if _, err := os.Stat(filepath.Join(d2, "Avid Projects", "Show", "Show.avp")); err != nil {
		t.Errorf("--include Avid Projects/: %v", err)
	}
	if r := editkit(t, "verify", d2); r.code != 0 {
		t.Errorf("verify after copy --for:\n%s", r)
	}

	// The hub holds the RAID's media (pushed with its MXF metadata).
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	if r := h.run(t, "push", "--category", "footage", "--dest-path", "Avid MediaFiles/MXF", filepath.Join(fx.raid, "Avid MediaFiles", "MXF", "1")); r.code != 0 {
		t.Fatalf("push: %s", r)
	}

	// needs: the whole cut against the drive copy --for made.
	var all needsOut
	r = h.runJSON(t, &all, "needs", fx.aaf, d2)
	if r.code != 1 || len(all.Unknown) != 1 {
		t.Fatalf("needs with a clip no one has: want exit 1 and it unknown\n%s", r)
	}
	if got := all.names(); fmt.Sprint(got) != fmt.Sprint(wantAll) {
		t.Errorf("needs lists %v, pyaaf2 reads %v", got, wantAll)
	}
	for _, m := range all.Media {
		if !m.InHub || len(m.Drives) == 0 || m.Size == 0 {
			t.Errorf("%s: in hub %v, on %v, %d bytes; want in the hub and on DIRECTOR", m.Path, m.InHub, m.Drives, m.Size)
		}
	}
	if len(all.Drives) != 1 || len(all.Drives[0].Missing) != 0 {
		t.Errorf("the drive copy --for made lacks %+v", all.Drives)
	}

	// pull --for one sequence onto a new drive: exactly its media, verified.
	d3 := filepath.Join(t.TempDir(), "SOUND1")
	os.MkdirAll(d3, 0o755)
	if r := h.run(t, "pull", "--for", fx.aaf, "--sequence", "R1", "--label", "SOUND1", d3); r.code != 0 {
		t.Fatalf("pull --for R1:\n%s", r)
	}
	if got := mediaNames(t, d3); fmt.Sprint(got) != fmt.Sprint(wantR1) {
		t.Errorf("pull --for R1 brought %v, pyaaf2 reads %v", got, wantR1)
	}
	if r := editkit(t, "verify", d3); r.code != 0 {
		t.Errorf("verify after pull --for:\n%s", r)
	}
	if r := h.run(t, "pull", "--for", fx.aaf, "--prune", d3); r.code != 2 {
		t.Errorf("pull --for --prune: want exit 2 (usage)\n%s", r)
	}

	// That drive lacks the rest of the cut: SOUND's audio, with its size.
	var rest needsOut
	if r := h.runJSON(t, &rest, "needs", "--sequence", "SOUND", fx.aaf, d3); r.code != 1 {
		t.Errorf("needs SOUND on SOUND1: want exit 1 (missing)\n%s", r)
	}
	if len(rest.Drives) != 1 || len(rest.Drives[0].Missing) != 1 || !strings.HasSuffix(rest.Drives[0].Missing[0].Path, "B002C001.A1.mxf") || rest.Drives[0].MissingBytes == 0 {
		t.Errorf("SOUND1 lacks %+v, want B002C001.A1.mxf with its size", rest.Drives)
	}

	// The same for a person: what is missing, its size, and a pull time
	// only at a rate given; the clip no one has is named.
	r = h.run(t, "needs", "--bwlimit", "8Mbit", fx.aaf, d3)
	for _, want := range []string{"missing: Avid MediaFiles/MXF/1/B002C001.A1.mxf (", "(--bwlimit)", "unknown: clip"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("needs output lacks %q\n%s", want, r)
		}
	}
	if r := h.run(t, "needs", fx.aaf, d3); !strings.Contains(r.stdout, "no rate known") {
		t.Errorf("needs without --bwlimit claims a pull time\n%s", r)
	}

	// An EDL and an OTIO timeline for R1 name the same files.
	edl := filepath.Join(t.TempDir(), "R1.edl")
	writeFile(t, edl, `TITLE: R1
FCM: NON-DROP FRAME

001  A001     V     C        01:00:00:00 01:00:00:01 00:00:00:00 00:00:00:01
* FROM CLIP NAME: A001C001
002  A001     V     C        01:00:10:00 01:00:10:02 00:00:00:01 00:00:00:03
* FROM CLIP NAME: A001C002
003  A001     V     C        01:00:00:01 01:00:00:02 00:00:00:03 00:00:00:04
* FROM CLIP NAME: A001C001
004  BL       V     C        00:00:00:00 00:00:00:01 00:00:00:04 00:00:00:05
005  A001     A     C        01:00:00:00 01:00:00:02 00:00:00:00 00:00:00:02
`)
	otio := filepath.Join(t.TempDir(), "R1.otio")
	clip := func(key string) string {
		return fmt.Sprintf(`{"OTIO_SCHEMA": "Clip.2", "name": %q, "metadata": {"AAF": {"SourceID": "urn:smpte:umid:%s"}},
 "media_references": {"DEFAULT_MEDIA": {"OTIO_SCHEMA": "ExternalReference.1", "target_url": "file:///Volumes/RAID/%s.mxf"}},
 "active_media_reference_key": "DEFAULT_MEDIA"}`, key, fx.info[key].FilePackage, key)
	}
	writeFile(t, otio, `{"OTIO_SCHEMA": "Timeline.1", "name": "R1", "tracks": {"OTIO_SCHEMA": "Stack.1", "children": [
 {"OTIO_SCHEMA": "Track.1", "kind": "Video", "children": [`+clip("A001C001.V1")+`, {"OTIO_SCHEMA": "Gap.1"}, `+clip("A001C002.V1")+`]},
 {"OTIO_SCHEMA": "Track.1", "kind": "Audio", "children": [`+clip("A001C001.A1")+`]}]}}`)
	for _, cut := range []string{edl, otio} {
		var n needsOut
		if r := h.runJSON(t, &n, "needs", cut, d3); r.code != 0 {
			t.Errorf("needs %s on SOUND1 (which has R1): want exit 0\n%s", filepath.Ext(cut), r)
		}
		if got := n.names(); fmt.Sprint(got) != fmt.Sprint(wantR1) {
			t.Errorf("%s lists %v, the AAF's R1 %v", filepath.Ext(cut), got, wantR1)
		}
	}

	// A damaged AAF: a clear error, exit 2.
	b, err := os.ReadFile(fx.aaf)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "damaged.aaf")
	writeFile(t, bad, string(b[:len(b)/4]))
	if r := h.run(t, "needs", bad); r.code != 2 || !strings.Contains(r.stderr, "damaged.aaf") {
		t.Errorf("needs on a damaged AAF: want exit 2 naming the file\n%s", r)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
