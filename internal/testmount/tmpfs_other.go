//go:build !linux

package testmount

import (
	"testing"

	"github.com/editkit/editkit/internal/slowtest"
)

// TmpfsAt mounts a tmpfs on dir: Linux only.
func TmpfsAt(t testing.TB, dir, options string) {
	t.Helper()
	slowtest.Missing(t, "a tmpfs (Linux only)")
}
