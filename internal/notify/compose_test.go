package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/verify"
)

// A copy says, per drive, ready (with its facts) or failed (what failed,
// what to do); an interrupted copy says nothing: it is resumed, not done.
func TestForCopy(t *testing.T) {
	r := &offload.Result{Source: "/RAID/Show", Verify: "dest", Finished: time.Now(), Destinations: []*offload.DestResult{
		{Label: "EDITOR1", DriveID: "d-1", Copied: 10, AlreadyThere: 2, CopiedBytes: 3 << 30, Checksums: "/V/EDITOR1/.editkit/checksums.b3sum"},
		{Label: "EDITOR2", DriveID: "d-2", Copied: 9, Failed: []offload.FileError{{Path: "A001.mxf", Err: "read-back differs"}}},
	}}
	ms := ForCopy(r)
	if len(ms) != 2 || ms[0].Kind != DriveReady || ms[0].Title != "Drive EDITOR1 is ready" || ms[1].Kind != CopyFailed {
		t.Fatalf("messages: %+v", ms)
	}
	plain := ms[0].plain("")
	for _, want := range []string{"Drive: EDITOR1 (d-1)", "Files: 12 (10 copied, 2 already there)", "Copied: 3.0 GiB",
		"Hashes: BLAKE3 and xxh128 of every file, read back from the drive; list: /V/EDITOR1/.editkit/checksums.b3sum"} {
		if !strings.Contains(plain, want) {
			t.Errorf("drive ready lacks %q:\n%s", want, plain)
		}
	}
	if !strings.Contains(ms[1].Text, "A001.mxf: read-back differs") || !strings.Contains(ms[1].Text, "Run the same copy again") {
		t.Errorf("copy failed: %q", ms[1].Text)
	}
	r.Interrupted = true
	if ms := ForCopy(r); len(ms) != 0 {
		t.Errorf("an interrupted copy: %+v", ms)
	}
}

// A verify with problems lists them (the first few) and where; a clean one
// says nothing.
func TestForVerify(t *testing.T) {
	r := &verify.Result{Drive: "/Volumes/EDITOR1", Label: "EDITOR1", Files: 20, Verified: 8, Report: "/Volumes/EDITOR1/.editkit/reports/v.txt"}
	if ms := ForVerify(r); len(ms) != 0 {
		t.Fatalf("a clean verify: %+v", ms)
	}
	for i := range 12 {
		r.Problems = append(r.Problems, verify.Problem{Kind: verify.Kind("modified"), Path: "clip" + string(rune('a'+i)) + ".mxf"})
	}
	ms := ForVerify(r)
	if len(ms) != 1 || ms[0].Title != "Verify of EDITOR1 failed: 12 problems" || !strings.Contains(ms[0].Text, "modified clipa.mxf") ||
		!strings.HasSuffix(ms[0].Text, "… and 4 more") || !strings.Contains(ms[0].plain(""), "Intact: 8 of 20 files") {
		t.Fatalf("failed verify: %+v", ms)
	}
}
