package aaf_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/editkit/editkit/internal/aaf"
	"github.com/editkit/editkit/internal/aaf/aaftest"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/mxf/mxftest"
)

func readFile(t *testing.T, path string, opt aaf.Options) (*aaf.Cut, error) {
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
	return aaf.Read(f, st.Size(), opt)
}

// oracleUMIDs turns pyaaf2's MobIDs (as stored) into the sorted, distinct
// UMIDs in MXF byte order, through aaf.MobID.UMID.
func oracleUMIDs(t *testing.T, ids []string) []string {
	t.Helper()
	set := map[string]bool{}
	for _, s := range ids {
		var m aaf.MobID
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != len(m) {
			t.Fatalf("oracle MobID %q", s)
		}
		copy(m[:], b)
		set[m.UMID().String()] = true
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fileMobs(c *aaf.Cut) []string {
	set := map[string]bool{}
	for _, m := range c.Media {
		set[m.FileMob.String()] = true
	}
	return sortedKeys(set)
}

// TestReadMatchesPyAAF2 builds cuts the way Avid exports them (pyaaf2
// linking ffmpeg's OP-Atom files, a clip's video and audio sharing a master
// mob) and checks that the reader names exactly
// the file source mobs pyaaf2 reads back, per sequence and for all, and
// that each UMID is the one written in the MXF file itself.
func TestReadMatchesPyAAF2(t *testing.T) {
	dir := t.TempDir()
	// media: three clips' video files, then their audio files
	media := make([]string, 6)
	for i := range 3 {
		paths, _ := mxftest.Clip(t, dir, fmt.Sprintf("A001C00%d", i+1), mxftest.Opts{})
		media[i], media[i+3] = paths[0], paths[1]
	}
	cutPath := filepath.Join(dir, "cut.aaf")
	aaftest.Make(t, cutPath, aaftest.Spec{Media: media, SectorSize: 512, Compositions: []aaftest.Composition{
		// some clips of the reel, one used twice, with its audio
		{Name: "REEL1 cut", Tracks: []aaftest.Track{
			{Kind: "picture", Clips: []aaftest.Clip{{Media: 0}, {Media: 1}, {Media: 0, Start: 1}}},
			{Kind: "sound", Clips: []aaftest.Clip{{Media: 3}}},
		}},
		{Name: "VIDEO ONLY", Tracks: []aaftest.Track{{Kind: "picture", Clips: []aaftest.Clip{{Media: 2}}}}},
		{Name: "AUDIO ONLY", Tracks: []aaftest.Track{{Kind: "sound", Clips: []aaftest.Clip{{Media: 4}}}}},
		// a sequence nesting another
		{Name: "NESTED", Tracks: []aaftest.Track{
			{Kind: "sound", Clips: []aaftest.Clip{{Media: 5}, {Nested: "AUDIO ONLY"}}},
		}},
	}})
	oracle := aaftest.Oracle(t, cutPath)

	all, err := readFile(t, cutPath, aaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ids := range oracle {
		want = append(want, ids...)
	}
	if got, w := fileMobs(all), oracleUMIDs(t, want); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("all sequences: got %v, pyaaf2 reads %v", got, w)
	}
	if len(all.Compositions) != 4 {
		t.Errorf("compositions %q, want 4", all.Compositions)
	}
	for name, ids := range oracle {
		c, err := readFile(t, cutPath, aaf.Options{Sequence: name})
		if err != nil {
			t.Fatal(err)
		}
		if got, w := fileMobs(c), oracleUMIDs(t, ids); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, pyaaf2 reads %v", name, got, w)
		}
		if name == "REEL1 cut" {
			uses := map[int]int{}
			for _, m := range c.Media {
				uses[m.Uses]++
			}
			if uses[2] != 1 || uses[1] != 2 {
				t.Errorf("%s: uses per media %v, want one used twice and two once", name, uses)
			}
		}
	}

	// Each file mob's UMID, in MXF byte order, is the one in its file.
	for _, m := range all.Media {
		if !m.Resolved {
			t.Errorf("%s not resolved to a file mob", m.FileMob)
		}
		found := 0
		for _, p := range media {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, m.FileMob[:]) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("file mob %s is in %d of the MXF files, want 1", m.FileMob, found)
		}
	}

	if _, err := readFile(t, cutPath, aaf.Options{Sequence: "nope"}); err == nil {
		t.Error("an unknown --sequence gave no error")
	}
}

// TestReadSyntheticUMIDs checks the MobID byte order for both UMID styles
// (Avid's half-swapped material number and SMPTE's) against pyaaf2's own
// mapping from MXF bytes, and that a clip whose file mob the AAF lacks is
// named, not dropped.
func TestReadSyntheticUMIDs(t *testing.T) {
	avid := "060a2b340101010501010f1013000000060e2b347f7f2a80" + "4fa5c20f4e301e50"
	smpte := "060a2b340101010501010d2013000000" + "a11b8223b6d643059d3a4cd5aedaf502"
	path := filepath.Join(t.TempDir(), "syn.aaf")
	aaftest.Make(t, path, aaftest.Spec{SectorSize: 512,
		Synthetic: []aaftest.Synthetic{{Name: "A001C001", FileUMID: avid}, {Name: "A001C002", FileUMID: smpte}},
		Compositions: []aaftest.Composition{{Name: "SEQ", Tracks: []aaftest.Track{
			{Kind: "sound", Clips: []aaftest.Clip{{Media: 0}, {Media: 1}}}}}}})
	c, err := readFile(t, path, aaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := fileMobs(c)
	want := []string{avid, smpte}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file mobs %v, want %v", got, want)
	}
	for _, m := range c.Media {
		if m.Name == "" {
			t.Errorf("%s: no clip name", m.FileMob)
		}
	}
	var zero mxf.UMID
	for _, m := range c.Media {
		if m.MasterMob == zero {
			t.Errorf("%s: master mob not recorded", m.FileMob)
		}
	}
}

// TestReadCorrupt: damaged input is an error saying so, never a panic.
func TestReadCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syn.aaf")
	aaftest.Make(t, path, aaftest.Spec{SectorSize: 512,
		Synthetic:    []aaftest.Synthetic{{Name: "C1", FileUMID: "060a2b340101010501010d2013000000a11b8223b6d643059d3a4cd5aedaf502"}},
		Compositions: []aaftest.Composition{{Name: "SEQ", Tracks: []aaftest.Track{{Kind: "sound", Clips: []aaftest.Clip{{Media: 0}}}}}}})
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     nil,
		"text":      []byte("TITLE: not an AAF\n001  A001 V C 00:00:00:00\n"),
		"truncated": good[:len(good)/3],
	}
	for name, b := range cases {
		_, err := aaf.Read(bytes.NewReader(b), int64(len(b)), aaf.Options{})
		if err == nil || !aaf.IsFormat(err) {
			t.Errorf("%s: err %v, want a format error", name, err)
		}
	}
	// Every 512-byte sector zeroed in turn: an error or a result, never a
	// panic.
	for off := 512; off < len(good); off += 512 * 7 {
		b := bytes.Clone(good)
		clear(b[off:min(off+512, len(b))])
		_, _ = aaf.Read(bytes.NewReader(b), int64(len(b)), aaf.Options{})
	}
}

// TestReadLarge: a 2 000-clip sequence over 500 media is read whole (its
// speed is measured by ekbench cut, not asserted here).
func TestReadLarge(t *testing.T) {
	spec := aaftest.Spec{SectorSize: 4096}
	for i := 0; i < 500; i++ {
		spec.Synthetic = append(spec.Synthetic, aaftest.Synthetic{Name: fmt.Sprintf("C%04d", i),
			FileUMID: fmt.Sprintf("060a2b340101010501010d2013000000%032x", i+1)})
	}
	var clips []aaftest.Clip
	for i := 0; i < 2000; i++ {
		clips = append(clips, aaftest.Clip{Media: (i * 7) % 500})
	}
	spec.Compositions = []aaftest.Composition{{Name: "BIG", Tracks: []aaftest.Track{{Kind: "sound", Clips: clips}}}}
	path := filepath.Join(t.TempDir(), "big.aaf")
	aaftest.Make(t, path, spec)
	c, err := readFile(t, path, aaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Media) != 500 {
		t.Errorf("%d media, want 500", len(c.Media))
	}
	n := 0
	for _, m := range c.Media {
		n += m.Uses
	}
	if n != 2000 {
		t.Errorf("%d uses, want 2000", n)
	}
}

// TestReadNestedUses: sequences nested three deep, each using the one below
// 300 times, mean 27 million uses of one clip. They are counted, not listed
// one by one (which would take gigabytes).
func TestReadNestedUses(t *testing.T) {
	spec := aaftest.Spec{SectorSize: 4096,
		Synthetic: []aaftest.Synthetic{{Name: "C1", FileUMID: "060a2b340101010501010d2013000000a11b8223b6d643059d3a4cd5aedaf502"}}}
	uses := func(c aaftest.Clip) []aaftest.Clip {
		out := make([]aaftest.Clip, 300)
		for i := range out {
			out[i] = c
		}
		return out
	}
	spec.Compositions = []aaftest.Composition{
		{Name: "L1", Tracks: []aaftest.Track{{Kind: "sound", Clips: uses(aaftest.Clip{Media: 0})}}},
		{Name: "L2", Tracks: []aaftest.Track{{Kind: "sound", Clips: uses(aaftest.Clip{Nested: "L1"})}}},
		{Name: "L3", Tracks: []aaftest.Track{{Kind: "sound", Clips: uses(aaftest.Clip{Nested: "L2"})}}},
	}
	path := filepath.Join(t.TempDir(), "nested.aaf")
	aaftest.Make(t, path, spec)
	c, err := readFile(t, path, aaf.Options{Sequence: "L3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Media) != 1 || c.Media[0].Uses != 300*300*300 {
		t.Fatalf("media %+v, want one used 27 000 000 times", c.Media)
	}
}
