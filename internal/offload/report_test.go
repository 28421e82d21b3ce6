package offload

import (
	"fmt"
	"testing"

	"github.com/editkit/editkit/internal/manifest"
)

// The text report's file lines are built by hand for speed; a checker
// parsing them (a script, b3sum-style tooling) must see exactly the
// columns fmt wrote before, whatever the size's width.
func TestReportLineMatchesItsFormat(t *testing.T) {
	for _, size := range []int64{0, 7, 1536, 999_999_999_999, 1_000_000_000_000, 123_456_789_012_345} {
		r := manifest.Record{Path: "Day01/A001 C003.mxf", Size: size,
			BLAKE3: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
			XXH128: "99aa06d3014798d86001c324468d497f"}
		want := fmt.Sprintf("  %s  %s  %12d  %s\n", r.BLAKE3, r.XXH128, r.Size, r.Path)
		if got := string(appendReportLine([]byte("x"), r)); got != "x"+want {
			t.Errorf("size %d: line %q, want %q", size, got, "x"+want)
		}
	}
}
