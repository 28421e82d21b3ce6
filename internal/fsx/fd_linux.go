package fsx

import (
	"errors"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// Fstat describes the open file descriptor fd (name is its base name, for
// the FileInfo). Commands that handle many small files keep plain
// descriptors rather than *os.File, whose creation asks the descriptor's
// flags and sets a finalizer: for a file of a few KB, more work than its
// own read.
func Fstat(fd int, name string) (fs.FileInfo, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstat(fd, &st)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return statInfo{st: st, name: name}, nil
	}
}

// statInfo is an fs.FileInfo read by fstat.
type statInfo struct {
	st   unix.Stat_t
	name string
}

func (i statInfo) Name() string       { return i.name }
func (i statInfo) Size() int64        { return i.st.Size }
func (i statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i statInfo) IsDir() bool        { return i.st.Mode&unix.S_IFMT == unix.S_IFDIR }
func (i statInfo) Sys() any           { return &i.st }

func (i statInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	default:
		m |= fs.ModeIrregular
	}
	return m
}

// WriteFD writes all of b to fd, as os.File.Write does.
func WriteFD(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Write(fd, b[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}
