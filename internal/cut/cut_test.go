package cut

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/mxf"
)

func writeCut(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// An EDL's events become references with reel, track, clip name and source
// range; dissolves name both clips; black is no media; drop-frame is kept;
// a clip used twice is one reference used twice.
func TestReadEDL(t *testing.T) {
	p := writeCut(t, "r1.edl", `TITLE: R1 v3
FCM: DROP FRAME

001  BL       V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00
002  A001     V     C        01:00:00;00 01:00:02;00 01:00:01;00 01:00:03;00
* FROM CLIP NAME: A001C001
002  B002     V     D    012 02:00:00;00 02:00:02;00 01:00:03;00 01:00:05;00
* FROM CLIP NAME: A001C001
* TO CLIP NAME: B002C004
M2   B002       047.6                02:00:00;00
003  A001     AA    C        01:00:00;00 01:00:02;00 01:00:05;00 01:00:07;00
* FROM CLIP NAME: A001C001
004  A001     V     C        01:00:00;00 01:00:02;00 01:00:07;00 01:00:09;00
* FROM CLIP NAME: A001C001
`)
	nd, err := Read(p, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range nd.Refs {
		got = append(got, fmt.Sprintf("%s/%s/%s/%s-%s/%d", r.Tape, r.Name, r.Track, r.In, r.Out, r.Uses))
	}
	want := []string{
		"A001/A001C001/V/01:00:00;00-01:00:02;00/2",
		"B002/B002C004/V/02:00:00;00-02:00:02;00/1",
		"A001/A001C001/AA/01:00:00;00-01:00:02;00/1",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("refs\n %v\nwant\n %v", got, want)
	}
	if len(nd.Sequences) != 1 || nd.Sequences[0] != "R1 v3" {
		t.Errorf("sequences %q", nd.Sequences)
	}
	if _, err := Read(writeCut(t, "x.edl", "TITLE: nothing\n"), ""); err == nil {
		t.Error("an EDL without events read without error")
	}
}

// Drop-frame timecode skips two frame numbers a minute but every tenth.
func TestTCFramesDropFrame(t *testing.T) {
	for _, c := range []struct {
		tc   TC
		fps  int
		want int64
	}{
		{TC{M: 1, F: 2, Drop: true}, 30, 1800},
		{TC{M: 10, Drop: true}, 30, 17982},
		{TC{H: 1, Drop: true}, 30, 107892},
		{TC{H: 1}, 25, 90000},
	} {
		if got := c.tc.Frames(c.fps); got != c.want {
			t.Errorf("%s at %d: %d frames, want %d", c.tc, c.fps, got, c.want)
		}
	}
}

func info(clip, tape, kind string, material byte, startSec int64) *mxf.Info {
	i := &mxf.Info{ClipName: clip, TapeName: tape, Kind: kind, EditRate: mxf.Rational{Num: 25, Den: 1},
		StartTimecode: startSec * 25, Duration: 50, TimecodeRate: 25}
	i.MaterialPackage[31] = material
	i.FilePackage[31], i.FilePackage[30] = material, kind[0]
	return i
}

// An EDL reference that two different clips fit (same reel, same
// timecode, no clip name) is ambiguous and takes both; one whose reel is
// unknown is unknown; files without UMIDs never match a UMID.
func TestMatch(t *testing.T) {
	media := []Media{
		{Path: "MXF/1/A001C001.V1.mxf", MXF: info("A001C001", "A001", "video", 1, 3600)},
		{Path: "MXF/1/A001C001.A1.mxf", MXF: info("A001C001", "A001", "audio", 1, 3600)},
		{Path: "MXF/1/A001C009.V1.mxf", MXF: info("A001C009", "A001", "video", 9, 3600)},
		{Path: "MXF/1/NOUMID.V1.mxf", MXF: &mxf.Info{ClipName: "NOUMID", Kind: "video"}},
	}
	in, out := TC{H: 1}, TC{H: 1, F: 1}
	refs := []Ref{
		{Tape: "A001", Track: "V", In: &in, Out: &out},
		{Tape: "A001", Name: "A001C001", Track: "V", In: &in, Out: &out},
		{Tape: "Z009", Track: "V", In: &in, Out: &out},
		{Packages: []mxf.UMID{{}}},
		{FilePackage: media[1].MXF.FilePackage},
		{Packages: []mxf.UMID{media[0].MXF.MaterialPackage}},
		{URL: "file:///C:/Avid%20MediaFiles/MXF/1/NOUMID.V1.mxf"},
	}
	ms := NewIndex(media).Match(refs)
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%v%v", m.Media, m.Ambiguous))
	}
	want := "[0 2]true [0]false []false []false [1]false [0 1]false [3]false"
	if strings.Join(got, " ") != want {
		t.Errorf("matches %s\nwant    %s", strings.Join(got, " "), want)
	}
}

// An OTIO file with two timelines: --sequence reads one; clips give their
// URLs and the UMIDs in their metadata.
func TestReadOTIO(t *testing.T) {
	umid := "urn:smpte:umid:060a2b34.01010105.01010d20.13000000.a11b8223.b6d64305.9d3a4cd5.aedaf502"
	p := writeCut(t, "show.otio", `{"OTIO_SCHEMA": "SerializableCollection.1", "children": [
 {"OTIO_SCHEMA": "Timeline.1", "name": "R1", "tracks": {"OTIO_SCHEMA": "Stack.1", "children": [
  {"OTIO_SCHEMA": "Track.1", "kind": "Video", "children": [
   {"OTIO_SCHEMA": "Clip.1", "name": "A001C001", "metadata": {"AAF": {"SourceID": "`+umid+`"}},
    "media_reference": {"OTIO_SCHEMA": "ExternalReference.1", "target_url": "file:///media/A001C001.mxf"},
    "source_range": {"OTIO_SCHEMA": "TimeRange.1", "start_time": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25, "value": 90000},
     "duration": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25, "value": 50}}}]}]}},
 {"OTIO_SCHEMA": "Timeline.1", "name": "R2", "tracks": {"OTIO_SCHEMA": "Stack.1", "children": [
  {"OTIO_SCHEMA": "Track.1", "kind": "Audio", "children": [
   {"OTIO_SCHEMA": "Clip.1", "name": "B", "media_reference": {"OTIO_SCHEMA": "MissingReference.1"},
    "metadata": {"cmx_3600": {"reel": "B002"}}}]}]}}]}`)
	nd, err := Read(p, "R1")
	if err != nil {
		t.Fatal(err)
	}
	if len(nd.Refs) != 1 {
		t.Fatalf("R1 refs %+v", nd.Refs)
	}
	r := nd.Refs[0]
	want, _ := mxf.ParseUMID(umid)
	if r.URL != "file:///media/A001C001.mxf" || len(r.Packages) != 1 || r.Packages[0] != want || r.Track != "V" || r.In.String() != "01:00:00:00" || r.Out.String() != "01:00:02:00" {
		t.Errorf("R1's clip read as %+v (in %v out %v)", r, r.In, r.Out)
	}
	all, err := Read(p, "")
	if err != nil || len(all.Refs) != 2 || all.Refs[1].Tape != "B002" {
		t.Errorf("all timelines: %+v, %v", all, err)
	}
	if _, err := Read(p, "R9"); err == nil || !strings.Contains(err.Error(), "R2") {
		t.Errorf("unknown timeline: %v, want an error listing the timelines", err)
	}
}
