package aaf_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/aaf"
	"github.com/editkit/editkit/internal/aaf/aaftest"
)

// FuzzRead: any input gives a cut or an error, never a panic or a huge
// allocation. The input patches a pyaaf2-made cut (nested sequences, two
// compositions, 512-byte sectors) at an offset, so the fuzzer damages a real
// file without carrying its 400 KB through every mutation (Go's fuzzer
// slows to a crawl on inputs that size); whole is the file itself.
func FuzzRead(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.aaf")
	aaftest.Make(f, path, aaftest.Spec{SectorSize: 512,
		Synthetic: []aaftest.Synthetic{
			{Name: "C1", FileUMID: "060a2b340101010501010d2013000000a11b8223b6d643059d3a4cd5aedaf502"},
			{Name: "C2", FileUMID: "060a2b340101010501010f1013000000060e2b347f7f2a804fa5c20f4e301e50"},
		},
		Compositions: []aaftest.Composition{
			{Name: "INNER", Tracks: []aaftest.Track{{Kind: "sound", Clips: []aaftest.Clip{{Media: 1}}}}},
			{Name: "SEQ", Tracks: []aaftest.Track{{Kind: "sound", Clips: []aaftest.Clip{{Media: 0}, {Nested: "INNER"}, {Media: 0}}}}},
		}})
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{}, false)
	f.Add(uint32(0x200), seed[0x200:0x400], false)
	f.Add(uint32(0x4c), []byte{0xff, 0xff, 0xff, 0x7f}, false)
	f.Add(uint32(0), seed[:600], true)
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, whole bool) {
		b := patch
		if !whole {
			b = bytes.Clone(seed)
			if int64(off) < int64(len(b)) {
				copy(b[off:], patch)
			}
		}
		c, err := aaf.Read(bytes.NewReader(b), int64(len(b)), aaf.Options{})
		if err != nil {
			return
		}
		for _, m := range c.Media {
			if m.Uses < 1 {
				t.Errorf("%s listed with %d uses", m.FileMob, m.Uses)
			}
		}
	})
}
