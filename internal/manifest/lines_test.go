package manifest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/editkit/editkit/internal/mxf"
)

// A record's line is the same bytes whether the fast encoder or
// encoding/json wrote it: older and newer editkits write lines that read
// the same and checksum the same.
func TestRecordLineIsEncodingJSONs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "Bins/bin 00001.avb", "a", "Ünïcode/é.wav", `quote"d`, `back\\slash`, "tab\there", "<html>&", "\u2028", "copy", "adopt",
		"0123456789abcdef0123456789abcdef", "Project/Audio Files/take 07.wav"}
	nums := []int64{0, 1, -1, 1500, 1 << 40, -1 << 62, 1_700_000_000, 1_700_000_000_123_456_789}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	num := func() int64 { return nums[rng.IntN(len(nums))] }
	plain := 0
	for i := range 5000 {
		r := Record{Path: pick(), Dir: rng.IntN(2) == 0, Size: num(), ModTime: num(), SrcMTime: num(), BLAKE3: pick(), XXH128: pick(),
			Origin: pick(), Written: num(), Verified: num(), Seq: rng.Uint64() >> rng.IntN(64), Deleted: rng.IntN(3) == 0}
		if i%50 == 0 {
			r.MXF = &mxf.Info{}
		}
		if plainRecord(&r) {
			plain++
		}
		got, err := appendRecordLine(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		body, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := body; !bytes.Equal(got[:bytes.LastIndexByte(got, '\t')], want) {
			t.Fatalf("record %+v\nwritten as %s\nencoding/json writes %s", r, got, want)
		}
	}
	if plain < 300 {
		t.Fatalf("only %d of 5000 records took the fast encoder: the test proves little", plain)
	}
}
