package mxf

import (
	"io"
	"os"
	"path"
	"strings"
)

// IsMXFName reports whether a file name has the .mxf extension (any case):
// the cheap check copy, push and pull make before reading a header.
func IsMXFName(name string) bool {
	return strings.EqualFold(path.Ext(name), ".mxf")
}

// Probe returns the header metadata of the file name, open as r, if it is
// an MXF file whose header reads; nil otherwise. An unreadable header is
// "no MXF metadata", never an error that stops the caller. Files without the
// .mxf extension are not read at all.
func Probe(name string, r io.ReaderAt, size int64) *Info {
	if !IsMXFName(name) {
		return nil
	}
	info, err := ReadHeader(r, size)
	if err != nil {
		return nil
	}
	return info
}

// ProbeFile is Probe for a file on disk that should be size bytes long.
func ProbeFile(path string, size int64) *Info {
	if !IsMXFName(path) {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return Probe(path, f, size)
}
