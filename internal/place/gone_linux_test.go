package place

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/editkit/editkit/internal/testmount"
)

// A drive unplugged while a file is being placed on it (a lazy unmount, as
// when the kernel drops a USB drive with files open) leaves its empty mount
// point: nothing is created there, however the next write begins.
func TestNothingPlacedInTheMountPointOfAnUnpluggedDrive(t *testing.T) {
	root := testmount.Tmpfs(t, "size=4m")
	r, err := Open(root, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Begin("Avid MediaFiles/MXF/1/A001C003.mxf", BeginOptions{Perm: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r)
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("written into the empty mount point of the unplugged drive: %v", entries)
	}
}
