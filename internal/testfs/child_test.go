//go:build linux

package testfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests drive the mount from child processes, as editkit does. Where no
// standard tool does the exact system calls, the test binary re-executes
// itself in one of these modes.
const childEnv = "TESTFS_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := child(mode, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(mode string, args []string) error {
	switch mode {
	case "writeverify":
		return childWriteVerify(args[0], args[1] == "drop")
	case "reread":
		return childReread(args[0])
	case "readloop":
		return childReadLoop(args[0])
	case "yank":
		return childYank(args[0])
	case "mmap":
		return childMmap(args[0])
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// childWriteVerify does what editkit does to verify a copy: write pattern(n)
// bytes, fsync, drop the cached pages (if drop), read back through the same
// descriptor. It writes what it read to stdout.
func childWriteVerify(path string, drop bool) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(pattern(verifySize)); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if drop {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(os.Stdout, f)
	return err
}

// childReread reads a file, drops its cached pages and reads it again
// through the same descriptor, as editkit re-reads a source; stdout gets
// both passes.
func childReread(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for range 2 {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(os.Stdout, f); err != nil {
			return err
		}
	}
	return nil
}

// childReadLoop reads a file from the medium over and over, printing
// "ready" after the first pass, until a read fails.
func childReadLoop(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return err
		}
		if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
			return err
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
}

// childMmap maps a file shared, as editkit's page-cache residency check
// does, and writes the mapped bytes to stdout.
func childMmap(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(m)
	_, err = os.Stdout.Write(m)
	return err
}

// childYank holds a file open on the mount, prints "ready", waits for a line
// on stdin (sent after the test unmounted) and then reports, one line per
// operation, what each returns.
func childYank(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(pattern(1 << 16)); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	report := func(op string, err error) {
		var errno unix.Errno
		switch {
		case err == nil:
			fmt.Printf("%s: ok\n", op)
		case errors.As(err, &errno):
			fmt.Printf("%s: %s\n", op, unix.ErrnoName(errno))
		default:
			fmt.Printf("%s: %v\n", op, err)
		}
	}
	buf := make([]byte, 4096)
	_, err = f.ReadAt(buf, 0)
	report("read-cached", err)
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	_, err = f.ReadAt(buf, 0)
	report("read", err)
	_, err = f.Write(buf)
	report("write", err)
	report("fsync", f.Sync())
	_, err = f.Stat()
	report("fstat", err)
	report("close", f.Close())
	_, err = os.Open(path)
	report("open", err)
	_, err = os.Stat(filepath.Dir(path))
	report("stat-mountpoint", err)
	report("mkdir", os.Mkdir(filepath.Join(filepath.Dir(path), "new"), 0o755))
	return nil
}

// verifySize is odd-sized so the last page is partial.
const verifySize = 100_000

// pattern returns n bytes that differ from their neighbours and repeat
// rarely, so a misplaced or altered byte shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
