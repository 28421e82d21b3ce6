package mxf_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/mxf/mxftest"
	"github.com/editkit/editkit/internal/slowtest"
)

func readFile(t *testing.T, path string) (*mxf.Info, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return mxf.ReadHeader(f, st.Size())
}

// ffprobeInfo is what ffprobe says about a file, in mxf.Info's terms.
type ffprobeInfo struct {
	Material, File mxf.UMID
	Tape, Timecode string
	Kind           string
	Duration       int64
}

func ffprobe(t *testing.T, path string) ffprobeInfo {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		slowtest.Missing(t, "ffprobe (Debian package ffmpeg)")
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json",
		"-show_entries", "format_tags=material_package_umid,timecode:stream=codec_type,duration_ts:stream_tags=file_package_umid,reel_name",
		path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p struct {
		Format struct {
			Tags map[string]string `json:"tags"`
		} `json:"format"`
		Streams []struct {
			CodecType  string            `json:"codec_type"`
			DurationTS int64             `json:"duration_ts"`
			Tags       map[string]string `json:"tags"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	umid := func(s string) mxf.UMID {
		u, err := mxf.ParseUMID(strings.TrimPrefix(s, "0x"))
		if err != nil {
			t.Fatalf("ffprobe UMID %q: %v", s, err)
		}
		return u
	}
	s := p.Streams[0]
	return ffprobeInfo{
		Material: umid(p.Format.Tags["material_package_umid"]),
		File:     umid(s.Tags["file_package_umid"]),
		Tape:     s.Tags["reel_name"],
		Timecode: p.Format.Tags["timecode"],
		Kind:     s.CodecType,
		Duration: s.DurationTS,
	}
}

// pyaafLink links the OP-Atom file into an AAF with pyaaf2, as Avid's
// "export AAF, link to media" refers to media, and returns the master mob,
// file source mob and tape mob IDs and names pyaaf2 gives them.
func pyaafLink(t *testing.T, path string) map[string]string {
	t.Helper()
	ref, _ := filepath.Abs("../../../shared/reference/pyaaf2")
	if _, err := os.Stat(filepath.Join(ref, "aaf2")); err != nil {
		slowtest.Missing(t, "pyaaf2 in ../shared/reference/pyaaf2")
	}
	script := `
import sys, json, aaf2
out = {}
with aaf2.open(sys.argv[2], "w") as f:
    for mob in f.content.link_external_mxf(sys.argv[1]):
        if isinstance(mob, aaf2.mobs.MasterMob):
            role = "master"
        elif type(mob.descriptor).__name__ == "TapeDescriptor":
            role = "tape"
        else:
            role = "file"
        out[role] = mob.mob_id.urn
        out[role + "_name"] = mob.name or ""
print(json.dumps(out))
`
	cmd := exec.Command("python3", "-c", script, path, filepath.Join(t.TempDir(), "link.aaf"))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+ref)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pyaaf2 link %s: %v\n%s", path, err, out)
	}
	m := map[string]string{}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("pyaaf2 output: %v: %s", err, out)
	}
	return m
}

func mustUMID(t *testing.T, s string) mxf.UMID {
	t.Helper()
	u, err := mxf.ParseUMID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tcString formats frames at 25 fps as ffprobe prints timecode.
func tcString(frames int64) string {
	f := frames % 25
	s := frames / 25
	return strings.Join([]string{pad(s / 3600), pad(s / 60 % 60), pad(s % 60), pad(f)}, ":")
}

func pad(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// TestReadHeaderOPAtom reads an Avid-style clip (one video and two audio
// OP-Atom files sharing a material package, UMIDs rewritten to chosen
// values) and checks every field against what the fixture set, ffprobe, and
// pyaaf2's Avid-style linking.
func TestReadHeaderOPAtom(t *testing.T) {
	dir := t.TempDir()
	paths, want := mxftest.Clip(t, dir, "A001C003", mxftest.Opts{Frames: 3, Audio: 2, Tape: "A001", Timecode: "10:00:01:05"})
	if len(paths) != 3 {
		t.Fatalf("clip made %d files, want 3", len(paths))
	}
	for i, path := range paths {
		got, err := readFile(t, path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if *got != want[i] {
			t.Errorf("%s:\n got %+v\nwant %+v", filepath.Base(path), *got, want[i])
		}
		if got.MaterialPackage != mxftest.UMIDFor("A001C003", "material") {
			t.Errorf("%s: material package %s is not the one the fixture set", path, got.MaterialPackage)
		}
		p := ffprobe(t, path)
		if p.Material != got.MaterialPackage || p.File != got.FilePackage {
			t.Errorf("%s: ffprobe says material %s file %s; ReadHeader %s %s", path, p.Material, p.File, got.MaterialPackage, got.FilePackage)
		}
		if p.Tape != got.TapeName || p.Kind != got.Kind || p.Duration != got.Duration {
			t.Errorf("%s: ffprobe says tape %q kind %q duration %d; ReadHeader %q %q %d", path, p.Tape, p.Kind, p.Duration, got.TapeName, got.Kind, got.Duration)
		}
		tcFrames := got.StartTimecode * int64(got.TimecodeRate) * int64(got.EditRate.Den) / int64(got.EditRate.Num)
		if p.Timecode != tcString(tcFrames) {
			t.Errorf("%s: ffprobe says timecode %s; ReadHeader %d edit units at %s = %s", path, p.Timecode, got.StartTimecode, got.EditRate, tcString(tcFrames))
		}
		a := pyaafLink(t, path)
		if mustUMID(t, a["master"]) != got.MaterialPackage || mustUMID(t, a["file"]) != got.FilePackage {
			t.Errorf("%s: pyaaf2 links master mob %s, file mob %s; ReadHeader %s %s", path, a["master"], a["file"], got.MaterialPackage, got.FilePackage)
		}
		if a["master_name"] != got.ClipName || a["tape_name"] != got.TapeName {
			t.Errorf("%s: pyaaf2 names master %q tape %q; ReadHeader %q %q", path, a["master_name"], a["tape_name"], got.ClipName, got.TapeName)
		}
	}
}

// TestReadHeaderOP1a reads an OP1a file holding video and audio.
func TestReadHeaderOP1a(t *testing.T) {
	paths, want := mxftest.Clip(t, t.TempDir(), "interview", mxftest.Opts{OP1a: true, Frames: 4, Timecode: "01:02:03:04"})
	got, err := readFile(t, paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if *got != want[0] {
		t.Errorf("\n got %+v\nwant %+v", *got, want[0])
	}
	p := ffprobe(t, paths[0])
	if p.Material != got.MaterialPackage || p.File != got.FilePackage || p.Timecode != "01:02:03:04" {
		t.Errorf("ffprobe says %+v; ReadHeader %+v", p, *got)
	}
}

// TestReadHeaderNoUMIDs reads a file whose UMIDs are all zero: the rest of
// the metadata is still read.
func TestReadHeaderNoUMIDs(t *testing.T) {
	paths, want := mxftest.Clip(t, t.TempDir(), "nameless", mxftest.Opts{NoUMIDs: true, Audio: -1, Tape: "T9"})
	got, err := readFile(t, paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !got.FilePackage.IsZero() || !got.MaterialPackage.IsZero() {
		t.Errorf("UMIDs %s %s, want zero", got.FilePackage, got.MaterialPackage)
	}
	if *got != want[0] {
		t.Errorf("\n got %+v\nwant %+v", *got, want[0])
	}
}

// TestReadHeaderNotMXF: other files are ErrNotMXF, whatever their size.
func TestReadHeaderNotMXF(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("not mxf "), 20000)} {
		_, err := mxf.ReadHeader(bytes.NewReader(data), int64(len(data)))
		if !errors.Is(err, mxf.ErrNotMXF) {
			t.Errorf("%d bytes: %v, want ErrNotMXF", len(data), err)
		}
		if mxf.Sniff(data) {
			t.Errorf("%d bytes: Sniff says MXF", len(data))
		}
	}
}

// countingReader records how far into the file ReadHeader reads.
type countingReader struct {
	r     *bytes.Reader
	max   int64
	total int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.max = max(c.max, off+int64(n))
	c.total += int64(n)
	return n, err
}

// TestReadHeaderDamaged cuts and corrupts a real file: every variant gives an
// error or an Info, never a panic, and a cut inside the header is an error
// wrapping ErrDamaged. It also checks the header is all that is read.
func TestReadHeaderDamaged(t *testing.T) {
	paths, _ := mxftest.Clip(t, t.TempDir(), "cut", mxftest.Opts{Frames: 3, Audio: -1, Tape: "A001"})
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(data)}
	if _, err := mxf.ReadHeader(cr, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	// The header partition ends where the next partition pack starts.
	headerEnd := 16
	for {
		headerEnd += bytes.Index(data[headerEnd:], data[:13])
		if data[headerEnd+13] != 0x05 { // not the primer pack
			break
		}
		headerEnd++
	}
	if cr.max > int64(headerEnd) {
		t.Errorf("ReadHeader read up to byte %d; the header partition ends at %d", cr.max, headerEnd)
	}
	if !mxf.Sniff(data[:min(len(data), mxf.HeadSize)]) {
		t.Error("Sniff does not recognise a real MXF file")
	}
	for _, n := range []int{16, 40, 100, 600, 1000, 3000} {
		_, err := mxf.ReadHeader(bytes.NewReader(data[:n]), int64(n))
		if !errors.Is(err, mxf.ErrDamaged) {
			t.Errorf("cut at %d: %v, want ErrDamaged", n, err)
		}
	}
	// A run-in before the partition pack is allowed.
	runin := append(bytes.Repeat([]byte{0xff}, 1000), data...)
	if got, err := mxf.ReadHeader(bytes.NewReader(runin), int64(len(runin))); err != nil || got.TapeName != "A001" {
		t.Errorf("with a run-in: %+v, %v", got, err)
	}
	// Flip each byte of the header in turn: no panic.
	bad := bytes.Clone(data)
	for i := 0; i < min(len(bad), 8192); i++ {
		bad[i] ^= 0xff
		_, _ = mxf.ReadHeader(bytes.NewReader(bad), int64(len(bad)))
		bad[i] ^= 0xff
	}
}

// FuzzReadHeader: any input gives an Info or an error, never a panic, and
// never reads past the size it is given.
func FuzzReadHeader(f *testing.F) {
	for _, p := range seedFiles(f) {
		f.Add(p)
	}
	f.Add([]byte("not mxf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = mxf.ReadHeader(bytes.NewReader(data), int64(len(data)))
	})
}

// seedFiles makes the fixtures' headers the fuzz seeds (only the first bytes
// matter: ReadHeader never reads the essence).
func seedFiles(f *testing.F) [][]byte {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return nil
	}
	dir := f.TempDir()
	var seeds [][]byte
	for _, o := range []mxftest.Opts{{Tape: "A001"}, {OP1a: true}} {
		paths, _ := mxftest.Clip(f, dir, "seed", o)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, b[:min(len(b), 16384)])
		}
	}
	return seeds
}

// TestReadHeaderFromFooter: a file whose header partition was written
// before its metadata was final (open, incomplete, no metadata, footer
// position unknown, as a streaming writer leaves it) has the metadata read
// from the footer partition, found through the random index pack. ffmpeg
// never repeats the metadata in the footer, so the file is rebuilt from a
// fixture: its header partition pack marked open and empty, then the
// essence, then a footer partition pack carrying the metadata, then the
// random index pack.
func TestReadHeaderFromFooter(t *testing.T) {
	paths, want := mxftest.Clip(t, t.TempDir(), "streamed", mxftest.Opts{Audio: -1, Tape: "A003"})
	orig, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	packLen := 16 + 4 + int(be.Uint32(orig[16:20])&0xffffff) // ffmpeg writes a 4-byte BER length
	hbc := be.Uint64(orig[20+32:])
	primer := bytes.Index(orig[16:], orig[:13]) + 16 // the primer pack follows the fill
	meta := orig[primer : primer+int(hbc)]

	header := bytes.Clone(orig[:packLen])
	header[14] = 0x01               // open incomplete
	be.PutUint64(header[20+24:], 0) // footer position unknown
	be.PutUint64(header[20+32:], 0) // no header metadata
	file := append(header, orig[packLen:]...)
	footerAt := len(file)
	footer := bytes.Clone(orig[:packLen])
	footer[13], footer[14] = 0x04, 0x04 // closed complete footer
	be.PutUint64(footer[20+8:], uint64(footerAt))
	be.PutUint64(footer[20+24:], uint64(footerAt))
	be.PutUint64(footer[20+32:], hbc)
	file = append(append(file, footer...), meta...)
	// The random index pack: key, length, (body SID, offset) per
	// partition, its own length.
	rip := append(bytes.Clone(orig[:16]), 0x83, 0, 0, 2*12+4)
	rip[13], rip[14] = 0x11, 0x01
	rip = be.AppendUint64(be.AppendUint32(rip, 0), 0)
	rip = be.AppendUint64(be.AppendUint32(rip, 0), uint64(footerAt))
	rip = be.AppendUint32(rip, uint32(len(rip)+4))
	file = append(file, rip...)

	got, err := mxf.ReadHeader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if *got != want[0] {
		t.Errorf("\n got %+v\nwant %+v", *got, want[0])
	}
}

// TestReadHeaderHostileBounded: a header crafted to make the reader
// allocate or loop (a set repeating one property a million times, tens of
// thousands of sets, a content storage naming the same package thousands
// of times) costs memory of the order of the file and ends quickly, with
// an error or an Info.
func TestReadHeaderHostileBounded(t *testing.T) {
	paths, _ := mxftest.Clip(t, t.TempDir(), "hostile", mxftest.Opts{Audio: -1})
	orig, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	packLen := 16 + 4 + int(be.Uint32(orig[16:20])&0xffffff)
	primerAt := bytes.Index(orig[16:], orig[:13]) + 16
	primerLen := 16 + 1
	if k := int(orig[primerAt+16] & 0x7f); orig[primerAt+16] >= 0x80 { // BER long form
		n := 0
		for _, c := range orig[primerAt+17 : primerAt+17+k] {
			n = n<<8 | int(c)
		}
		primerLen += k + n
	} else {
		primerLen += k
	}
	setKey := func(class byte) []byte {
		return []byte{0x06, 0x0e, 0x2b, 0x34, 0x02, 0x53, 0x01, 0x01, 0x0d, 0x01, 0x01, 0x01, 0x01, 0x01, class, 0x00}
	}
	klv := func(key, value []byte) []byte {
		out := append(bytes.Clone(key), 0x83, byte(len(value)>>16), byte(len(value)>>8), byte(len(value)))
		return append(out, value...)
	}
	uid := func(i int) []byte { return be.AppendUint64(be.AppendUint64(nil, 0xabad1dea), uint64(i)) }
	prop := func(tag uint16, v []byte) []byte {
		return append(be.AppendUint16(be.AppendUint16(nil, tag), uint16(len(v))), v...)
	}
	meta := bytes.Clone(orig[primerAt : primerAt+primerLen])
	// One set repeating a property a million times.
	meta = append(meta, klv(setKey(0x3b), bytes.Repeat(prop(0x4b02, nil), 1_000_000))...)
	// A content storage naming one package thousands of times, and the
	// package naming one track thousands of times.
	refs := func(id []byte, n int) []byte {
		b := be.AppendUint32(be.AppendUint32(nil, uint32(n)), 16)
		return append(b, bytes.Repeat(id, n)...)
	}
	meta = append(meta, klv(setKey(0x2f), append(prop(0x3c0a, uid(1)), prop(0x3b03, uid(2))...))...)
	meta = append(meta, klv(setKey(0x18), append(prop(0x3c0a, uid(2)), prop(0x1901, refs(uid(3), 4000))...))...)
	meta = append(meta, klv(setKey(0x37), append(prop(0x3c0a, uid(3)), prop(0x4403, refs(uid(4), 4000))...))...)
	meta = append(meta, klv(setKey(0x3b), append(prop(0x3c0a, uid(4)), prop(0x4803, uid(5))...))...)
	meta = append(meta, klv(setKey(0x0f), append(prop(0x3c0a, uid(5)), prop(0x1001, refs(uid(6), 4000))...))...)
	// Thousands of sets.
	for i := 0; i < 15_000; i++ {
		meta = append(meta, klv(setKey(0x11), prop(0x3c0a, uid(100+i)))...)
	}
	pack := bytes.Clone(orig[:packLen])
	be.PutUint64(pack[20+32:], uint64(len(meta)))
	file := append(pack, meta...)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = mxf.ReadHeader(bytes.NewReader(file), int64(len(file)))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("%d-byte header: %v, %s, %d bytes allocated", len(file), err, took, after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*uint64(len(file)) {
		t.Errorf("reading a %d-byte header allocated %d bytes", len(file), alloc)
	}
}
