//go:build !linux

package place

import (
	"errors"
	"io"

	"github.com/editkit/editkit/internal/fsx"
)

// dropPages makes the next read of f come from the medium.
func dropPages(f *tempFile) error { return fsx.ReadFromMedium(f.File) }

// readOnce reads f from byte 0 into buf, up to its end.
func readOnce(f *tempFile, buf []byte) (int, error) {
	k, err := f.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return k, err
}
