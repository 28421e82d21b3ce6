// Package mxftest makes real MXF files for tests and benchmarks: Debian's
// ffmpeg writes them (OP-Atom as Avid does, one essence track per file, and
// OP1a), then the UMIDs are rewritten in place to chosen values, because
// ffmpeg cannot be told them (it ignores -metadata material_package_umid,
// gives random ones, or all-zero ones under -fflags +bitexact). A clip's
// video and audio files then share one material package, as Avid's do.
package mxftest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/slowtest"
)

// ErrNoFFmpeg means ffmpeg is not installed (.ci/install-deps installs it).
var ErrNoFFmpeg = errors.New("ffmpeg not found (Debian package ffmpeg)")

// Rate is the edit rate of every fixture's video and timecode.
const Rate = 25

// Opts says what clip to make. The zero value makes a two-frame clip with
// one video and one audio file, at 01:00:00:00, with UMIDs derived from the
// clip's name.
type Opts struct {
	Frames   int    // video frames (default 2)
	Timecode string // start timecode, HH:MM:SS:FF at 25 fps (default 01:00:00:00)
	Tape     string // tape (reel) name; empty: none
	// ClipName is the material package name (default: the clip's name).
	ClipName string
	NoVideo  bool // no video file
	Audio    int  // audio files (mono PCM, 48 kHz); 0 means 1, -1 none
	// OP1a makes one OP1a file holding the video and one audio track
	// instead of OP-Atom files.
	OP1a bool
	// Material sets the material package UMID (default UMIDFor(name, "material")).
	Material mxf.UMID
	// NoUMIDs writes all-zero UMIDs, like a file from a tool that sets none.
	NoUMIDs bool
}

// UMIDFor returns a fixed, distinct UMID for a name and a role ("material",
// "file:V1", "tape"): a SMPTE 330M basic UMID whose material number is a
// hash, so tests can name the UMIDs they expect without reading the files.
func UMIDFor(name, role string) mxf.UMID {
	var u mxf.UMID
	copy(u[:], []byte{0x06, 0x0a, 0x2b, 0x34, 0x01, 0x01, 0x01, 0x05, 0x01, 0x01, 0x0d, 0x20, 0x13, 0x00, 0x00, 0x00})
	h := sha256.Sum256([]byte(name + "\x00" + role))
	copy(u[16:], h[:16])
	return u
}

// Clip makes the clip's files in dir and returns their paths and what their
// headers say (as the fixture set it, independent of mxf.ReadHeader). A
// missing ffmpeg fails t under EDITKIT_REQUIRE_ALL and skips it otherwise.
//
// OP-Atom files are named NAME.V1.mxf, NAME.A1.mxf, NAME.A2.mxf…, an OP1a
// file NAME.mxf. Their UMIDs: the material package UMIDFor(name,
// "material") (or Opts.Material), each file package UMIDFor(name,
// "file:V1"), "file:A1"… ("file:" for OP1a), the tape package
// UMIDFor(tape, "tape"), shared by every clip from that tape as in Avid.
// Video is DNxHR LB 256x144 at 25 fps (about 10 KB a frame); audio is mono
// 48 kHz PCM, whose edit rate in the header is 48000/1 (ffmpeg applies
// -mxf_audio_edit_rate only to the timecode track), so its start timecode
// and duration are in samples.
func Clip(t testing.TB, dir, name string, o Opts) ([]string, []mxf.Info) {
	t.Helper()
	paths, infos, err := Make(context.Background(), dir, name, o)
	if errors.Is(err, ErrNoFFmpeg) {
		slowtest.Missing(t, "ffmpeg (Debian package ffmpeg)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return paths, infos
}

// Make is Clip for code without a testing.TB (benchmarks).
func Make(ctx context.Context, dir, name string, o Opts) ([]string, []mxf.Info, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, nil, ErrNoFFmpeg
	}
	if o.Frames <= 0 {
		o.Frames = 2
	}
	if o.Timecode == "" {
		o.Timecode = "01:00:00:00"
	}
	if o.ClipName == "" {
		o.ClipName = name
	}
	startFrames, err := tcFrames(o.Timecode)
	if err != nil {
		return nil, nil, err
	}
	audio := o.Audio
	if audio == 0 {
		audio = 1
	}
	material := o.Material
	if material == (mxf.UMID{}) {
		material = UMIDFor(name, "material")
	}
	tape := mxf.UMID{}
	if o.Tape != "" {
		tape = UMIDFor(o.Tape, "tape")
	}
	base := Info{ClipName: o.ClipName, TapeName: o.Tape, MaterialPackage: material}
	if o.NoUMIDs {
		material, tape = mxf.UMID{}, mxf.UMID{}
		base.MaterialPackage = mxf.UMID{}
	}
	samples := int64(o.Frames) * 48000 / Rate

	type file struct {
		track string
		args  []string
		info  mxf.Info
	}
	var files []file
	meta := []string{"-metadata", "material_package_name=" + o.ClipName, "-timecode", o.Timecode}
	if o.Tape != "" {
		meta = append(meta, "-metadata", "reel_name="+o.Tape)
	}
	video := []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=256x144:rate=%d", Rate)}
	sine := []string{"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"}
	dnx := []string{"-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"}
	pcm := []string{"-c:a", "pcm_s16le", "-ac", "1"}
	switch {
	case o.OP1a:
		// Both sources end at the clip's length: -frames:v with -shortest
		// stops ffmpeg's OP1a muxing after one frame.
		d := fmt.Sprintf(":duration=%g", float64(o.Frames)/Rate)
		args := []string{"-f", "lavfi", "-i", video[3] + d, "-f", "lavfi", "-i", sine[3] + d}
		args = append(append(append(args, dnx...), pcm...), "-f", "mxf")
		files = append(files, file{"", args, base.mxf("video", mxf.Rational{Num: Rate, Den: 1}, startFrames, int64(o.Frames))})
	default:
		if !o.NoVideo {
			args := append(append(append([]string{}, video...), dnx...), "-frames:v", strconv.Itoa(o.Frames), "-f", "mxf_opatom")
			files = append(files, file{"V1", args, base.mxf("video", mxf.Rational{Num: Rate, Den: 1}, startFrames, int64(o.Frames))})
		}
		for i := 1; i <= audio; i++ {
			args := append(append(append([]string{}, sine...), pcm...),
				"-af", fmt.Sprintf("atrim=end_sample=%d", samples), "-mxf_audio_edit_rate", fmt.Sprintf("%d/1", Rate), "-f", "mxf_opatom")
			files = append(files, file{fmt.Sprintf("A%d", i), args, base.mxf("audio", mxf.Rational{Num: 48000, Den: 1}, startFrames*48000/Rate, samples)})
		}
	}
	var paths []string
	var infos []mxf.Info
	for _, f := range files {
		fname := name + ".mxf"
		if f.track != "" {
			fname = name + "." + f.track + ".mxf"
		}
		path := filepath.Join(dir, fname)
		args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, f.args...)
		args = append(append(args, meta...), path)
		cmd := exec.CommandContext(ctx, ffmpeg, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		info := f.info
		info.FilePackage = UMIDFor(name, "file:"+f.track)
		if o.NoUMIDs {
			info.FilePackage = mxf.UMID{}
		}
		if err := SetUMIDs(path, material, info.FilePackage, tape); err != nil {
			return nil, nil, err
		}
		paths = append(paths, path)
		infos = append(infos, info)
	}
	return paths, infos, nil
}

// Info is the part of an mxf.Info shared by a clip's files.
type Info struct {
	ClipName, TapeName string
	MaterialPackage    mxf.UMID
}

func (b Info) mxf(kind string, rate mxf.Rational, start, duration int64) mxf.Info {
	return mxf.Info{MaterialPackage: b.MaterialPackage, ClipName: b.ClipName, TapeName: b.TapeName, Kind: kind,
		EditRate: rate, StartTimecode: start, Duration: duration, TimecodeRate: Rate}
}

// tcFrames converts HH:MM:SS:FF at Rate to frames.
func tcFrames(tc string) (int64, error) {
	parts := strings.Split(tc, ":")
	if len(parts) != 4 {
		return 0, fmt.Errorf("mxftest: timecode %q: want HH:MM:SS:FF", tc)
	}
	var n int64
	for i, mul := range []int64{3600 * Rate, 60 * Rate, Rate, 1} {
		v, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("mxftest: timecode %q: %v", tc, err)
		}
		n += v * mul
	}
	return n, nil
}

// SetUMIDs rewrites, everywhere in the file at path, the material, file and
// tape package UMIDs ffmpeg wrote with the given ones (fixed-length fields,
// so in place).
func SetUMIDs(path string, material, file, tape mxf.UMID) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := WithUMIDs(data, material, file, tape)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// WithUMIDs returns a copy of the MXF file data with its material, file and
// tape package UMIDs replaced. ffmpeg derives all three from one random
// number, differing in the last byte (0x00, 0x01, 0x02).
func WithUMIDs(data []byte, material, file, tape mxf.UMID) ([]byte, error) {
	info, err := mxf.ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	oldTape := info.FilePackage
	oldTape[31] = 0x02
	out := bytes.Clone(data)
	for _, r := range []struct{ from, to mxf.UMID }{
		{info.MaterialPackage, material}, {info.FilePackage, file}, {oldTape, tape},
	} {
		replaceAll(out, r.from[:], r.to[:])
	}
	return out, nil
}

func replaceAll(b, from, to []byte) {
	for i := 0; ; {
		j := bytes.Index(b[i:], from)
		if j < 0 {
			return
		}
		copy(b[i+j:], to)
		i += j + len(from)
	}
}
