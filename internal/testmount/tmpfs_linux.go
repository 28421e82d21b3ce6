package testmount

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/editkit/editkit/internal/slowtest"
)

// TmpfsAt mounts a tmpfs with options (see Tmpfs) on dir, an existing
// folder, and unmounts it when the test ends.
func TmpfsAt(t testing.TB, dir, options string) {
	t.Helper()
	if os.Geteuid() != 0 {
		slowtest.Missing(t, "root (to mount a tmpfs)")
	}
	var flags uintptr
	var data []string
	for _, o := range strings.Split(options, ",") {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "":
		default:
			data = append(data, o)
		}
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, strings.Join(data, ",")); err != nil {
		slowtest.Missing(t, fmt.Sprintf("a tmpfs (%s) mounted at %s: %v", options, dir, err))
	}
	// Registered after the folder's own clean-up (t.TempDir), so it runs
	// first: the folder is removed once it is no mount point. A test may
	// have unmounted it already (an unplugged drive): EINVAL.
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("unmounting the tmpfs at %s: %v", dir, err)
		}
	})
}
