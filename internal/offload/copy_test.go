package offload

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/editkit/editkit/internal/fsx"
)

// Verification must read the copy from the medium. At the moment the
// read-back starts, none of the file's pages may be in the page cache
// (mincore), although the copy has just written every one of them.
func TestReadBackComesFromTheMedium(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mincore residency check is Linux-only")
	}
	src, dst := t.TempDir(), t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB
	for _, n := range []string{"a.mxf", "b.mxf"} {
		if err := os.WriteFile(filepath.Join(src, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	checked := 0
	res, err := Run(context.Background(), Options{
		Source: src,
		Dests:  []string{dst},
		beforeReadBack: func(f *os.File) {
			resident, total, err := fsx.Residency(f)
			mu.Lock()
			defer mu.Unlock()
			checked++
			if err != nil {
				t.Errorf("mincore %s: %v", f.Name(), err)
			} else if total == 0 || resident != 0 {
				t.Errorf("%s: %d of %d pages still cached when the read-back starts", f.Name(), resident, total)
			}
		},
	})
	if err != nil || !res.OK() {
		t.Fatalf("copy: %v %+v", err, res)
	}
	if checked != 2 {
		t.Fatalf("read-back hook ran %d times, want 2", checked)
	}
	// And with --verify=none nothing is read back.
	checked = 0
	os.RemoveAll(dst)
	os.Mkdir(dst, 0o755)
	if _, err := Run(context.Background(), Options{Source: src, Dests: []string{dst}, Verify: VerifyNone,
		beforeReadBack: func(*os.File) { checked++ }}); err != nil {
		t.Fatal(err)
	}
	if checked != 0 {
		t.Fatalf("--verify=none read back %d files", checked)
	}
}

func TestDefaultJobs(t *testing.T) {
	for dests := 1; dests <= 8; dests++ {
		if j := DefaultJobs(dests); j < 2 || j > 8 {
			t.Errorf("DefaultJobs(%d) = %d", dests, j)
		}
	}
}

func TestParseVerifyMode(t *testing.T) {
	for in, want := range map[string]VerifyMode{"none": VerifyNone, "dest": VerifyDest, "full": VerifyFull, "": VerifyDest} {
		if got, err := ParseVerifyMode(in); err != nil || got != want {
			t.Errorf("ParseVerifyMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseVerifyMode("always"); err == nil {
		t.Error("accepted a bad mode")
	}
}
