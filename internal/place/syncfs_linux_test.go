package place

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/testmount"
)

// Kernel releases as uname reports them decide whether syncfs reports
// write-back errors (5.8 and later).
func TestKernelAtLeast(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.44-fc-v1272": true,
		"5.8.0":            true,
		"5.10.0-28-amd64":  true,
		"5.7.19":           false,
		"4.19.0-26-amd64":  false,
		"5.15+":            true,
		"garbage":          false,
		"":                 false,
	} {
		if got := kernelAtLeast(release, 5, 8); got != want {
			t.Errorf("%q: %v, want %v", release, got, want)
		}
	}
}

// A folder under the root can be another drive's mount point; one syncfs
// covers one file system, so a group with files on two is fsynced file by
// file.
func TestBatchAcrossMountPointFsyncsEachFile(t *testing.T) {
	root := t.TempDir()
	other := filepath.Join(root, "Other drive")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	testmount.TmpfsAt(t, other, "size=4m")
	r, _ := Open(root, Hooks{})
	files := map[string]string{}
	for f := range 10 {
		files[fmt.Sprintf("Here/bin %02d.avb", f)] = fmt.Sprintf("here %d", f)
		files[fmt.Sprintf("Other drive/bin %02d.avb", f)] = fmt.Sprintf("there %d", f)
	}
	var res batchResult
	writeBatch(t, r, r.NewBatch(len(files)), files, nil, time.Time{}, &res)
	for rel, err := range res.errs {
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	if fileSyncs, _ := r.Syncs(); fileSyncs != int64(len(files)) {
		t.Fatalf("%d file syncs for a group on two file systems; want one per file (%d)", fileSyncs, len(files))
	}
}
