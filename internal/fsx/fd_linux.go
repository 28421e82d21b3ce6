package fsx

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// FD is an open file kept as a plain descriptor, made an *os.File only
// where a caller needs one (File). See Fstat for why.
type FD struct {
	fd   int
	name string   // path, for messages
	f    *os.File // once File was called: owns fd
}

// NewFD takes over the open descriptor fd of the file at path name.
func NewFD(fd int, name string) *FD { return &FD{fd: fd, name: name} }

// Fd is the descriptor.
func (d *FD) Fd() int { return d.fd }

// Name is the file's path.
func (d *FD) Name() string { return d.name }

// File is the file as an *os.File, sharing the descriptor and its offset.
func (d *FD) File() *os.File {
	if d.f == nil {
		d.f = os.NewFile(uintptr(d.fd), d.name)
	}
	return d.f
}

func (d *FD) Read(b []byte) (int, error) {
	if d.f != nil {
		return d.f.Read(b)
	}
	for {
		k, err := unix.Read(d.fd, b)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, d.pathError("read", err)
		case k == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return k, nil
	}
}

// ReadAt reads len(b) bytes at off, or up to the end (io.EOF).
func (d *FD) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Pread(d.fd, b[n:], off+int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, d.pathError("read", err)
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

// Write writes all of b, as os.File.Write does.
func (d *FD) Write(b []byte) (int, error) {
	if d.f != nil {
		return d.f.Write(b)
	}
	n := 0
	for n < len(b) {
		k, err := unix.Write(d.fd, b[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, d.pathError("write", err)
		}
		n += k
	}
	return n, nil
}

// Stat describes the file from its descriptor.
func (d *FD) Stat() (fs.FileInfo, error) {
	fi, err := Fstat(d.fd, filepath.Base(d.name))
	if err != nil {
		return nil, d.pathError("stat", err)
	}
	return fi, nil
}

func (d *FD) Close() error {
	if d.f != nil {
		return d.f.Close()
	}
	if err := unix.Close(d.fd); err != nil {
		return d.pathError("close", err)
	}
	return nil
}

func (d *FD) pathError(op string, err error) error {
	return &fs.PathError{Op: op, Path: d.name, Err: err}
}
