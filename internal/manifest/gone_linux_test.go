package manifest

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/testmount"
)

// A drive unplugged after it was opened (a lazy unmount, as when the
// kernel drops a USB drive whose journal is open) leaves its empty mount
// point: no write of the drive's state lands there.
func TestNothingWrittenInTheMountPointOfAnUnpluggedDrive(t *testing.T) {
	for name, write := range afterOpen {
		t.Run(name, func(t *testing.T) {
			root := testmount.Tmpfs(t, "size=4m")
			d := driveWithJournal(t, root)
			if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
				t.Fatal(err)
			}
			if err := write(d); !errors.Is(err, place.ErrGone) {
				t.Errorf("%s on an unplugged drive: %v, want ErrGone", name, err)
			}
			assertEmpty(t, root)
		})
	}
}
