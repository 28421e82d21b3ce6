//go:build linux

package testfs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPassThrough(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	mnt := f.Dir
	data := pattern(300_000)
	writeFile(t, filepath.Join(backing, "src"), data)

	mustRun(t, "mkdir", mnt+"/sub")
	// cp tries copy_file_range first; the mount refuses it so the data
	// goes through read and write.
	mustRun(t, "cp", mnt+"/src", mnt+"/sub/a")
	if got := readFile(t, filepath.Join(backing, "sub/a")); !bytes.Equal(got, data) {
		t.Fatalf("cp through the mount: backing file differs (%d bytes)", len(got))
	}
	if got := mustRun(t, "cat", mnt+"/sub/a"); !bytes.Equal(got, data) {
		t.Fatalf("cat through the mount: got %d bytes, not the data", len(got))
	}

	mustRun(t, "mv", mnt+"/sub/a", mnt+"/sub/b")
	if _, err := os.Stat(filepath.Join(backing, "sub/a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after mv, backing sub/a: %v", err)
	}
	b := filepath.Join(backing, "sub/b")

	mustRun(t, "touch", "-m", "-d", "@1500000000.123456789", mnt+"/sub/b")
	if fi := stat(t, b); !fi.ModTime().Equal(time.Unix(1500000000, 123456789)) {
		t.Errorf("mtime after touch: %v", fi.ModTime())
	}
	mustRun(t, "chmod", "640", mnt+"/sub/b")
	if fi := stat(t, b); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after chmod: %v", fi.Mode())
	}
	mustRun(t, "sync", mnt+"/sub/b") // fsync
	mustRun(t, "sync", mnt+"/sub")   // fsync of a folder
	mustRun(t, "fallocate", "-l", "1M", mnt+"/sub/c")
	if fi := stat(t, filepath.Join(backing, "sub/c")); fi.Size() != 1<<20 {
		t.Errorf("size after fallocate: %d", fi.Size())
	}
	if got := string(mustRun(t, "ls", mnt+"/sub")); got != "b\nc\n" {
		t.Errorf("ls: %q", got)
	}

	// Free space is the backing folder's, for editkit's free-space check.
	mnts := strings.Fields(string(mustRun(t, "stat", "-f", "-c", "%S %b %a", mnt)))
	backs := strings.Fields(string(mustRun(t, "stat", "-f", "-c", "%S %b %a", backing)))
	if mnts[0] != backs[0] || mnts[1] != backs[1] {
		t.Errorf("statfs block size and blocks: mount %v, backing %v", mnts, backs)
	}
	ma, _ := strconv.ParseFloat(mnts[2], 64)
	ba, _ := strconv.ParseFloat(backs[2], 64)
	if ma < ba*0.99 || ma > ba*1.01 {
		t.Errorf("statfs free blocks: mount %v, backing %v", ma, ba)
	}

	// Extended attributes, both ways.
	if err := unix.Setxattr(b, "user.editkit", []byte("v1"), 0); errors.Is(err, unix.ENOTSUP) {
		t.Logf("backing folder has no user xattrs; not checked")
	} else if err != nil {
		t.Fatal(err)
	} else {
		buf := make([]byte, 16)
		n, err := unix.Getxattr(mnt+"/sub/b", "user.editkit", buf)
		if err != nil || string(buf[:n]) != "v1" {
			t.Errorf("getxattr through the mount: %q, %v", buf[:n], err)
		}
		if err := unix.Setxattr(mnt+"/sub/b", "user.other", []byte("v2"), 0); err != nil {
			t.Errorf("setxattr through the mount: %v", err)
		} else if n, err := unix.Getxattr(b, "user.other", buf); err != nil || string(buf[:n]) != "v2" {
			t.Errorf("setxattr through the mount: backing has %q, %v", buf[:n], err)
		}
	}

	// mmap works (no direct_io), and sees the file. In a child: a page
	// fault in the daemon's own process can deadlock it (see package doc).
	if got := runChild(t, "mmap", mnt+"/sub/b"); !bytes.Equal(got, data) {
		t.Error("mmap on the mount: data differs")
	}

	// Locks are the kernel's own (not forwarded to the file system), so
	// they hold between processes, as editkit's drive lock needs.
	lf, err := os.Create(mnt + "/lock")
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("flock on the mount: %v", err)
	}
	if _, _, err := run(t, "flock", "-n", mnt+"/lock", "true"); err == nil {
		t.Error("a second process took a lock held by the test")
	}

	mustRun(t, "rm", mnt+"/sub/b")
	if _, err := os.Stat(b); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rm, backing: %v", err)
	}

	s := f.Stats()
	if s.Opens["sub/a"] == 0 || s.BytesWritten < int64(len(data)) || s.BytesRead < int64(len(data)) {
		t.Errorf("stats: %+v", s)
	}
}

// TestKernelCaching checks the caching the package comment promises, by
// counting the bytes that reach the file system.
func TestKernelCaching(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	data := pattern(256 << 10)
	writeFile(t, filepath.Join(backing, "a"), data)
	size := int64(len(data))
	var last int64
	readSince := func() int64 {
		n := f.Stats().BytesRead
		d := n - last
		last = n
		return d
	}
	readAll := func(fh *os.File) {
		t.Helper()
		buf := make([]byte, len(data))
		if _, err := fh.ReadAt(buf, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
	drop := func(fh *os.File) {
		t.Helper()
		if err := unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
	}

	// Every open reads from the file system, cached pages or not.
	mustRun(t, "cat", f.Dir+"/a")
	if d := readSince(); d != size {
		t.Errorf("first cat: %d bytes reached the file system, want %d", d, size)
	}
	mustRun(t, "cat", f.Dir+"/a")
	if d := readSince(); d != size {
		t.Errorf("second cat: %d bytes reached the file system, want %d", d, size)
	}

	// Within an open, the page cache serves until the pages are dropped.
	fh, err := os.Open(f.Dir + "/a")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	readAll(fh)
	readSince()
	readAll(fh)
	if d := readSince(); d != 0 {
		t.Errorf("re-read from the page cache: %d bytes reached the file system", d)
	}
	drop(fh)
	readAll(fh)
	if d := readSince(); d != size {
		t.Errorf("re-read after DONTNEED: %d bytes reached the file system, want %d", d, size)
	}

	// What a process writes stays cached, as on a real drive, so reading
	// it back verifies nothing unless the pages are dropped first.
	wf, err := os.OpenFile(f.Dir+"/b", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	if _, err := wf.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := wf.Sync(); err != nil {
		t.Fatal(err)
	}
	readSince()
	readAll(wf)
	if d := readSince(); d != 0 {
		t.Errorf("read-back of written data: %d bytes reached the file system, want 0", d)
	}
	drop(wf)
	readAll(wf)
	if d := readSince(); d != size {
		t.Errorf("read-back after DONTNEED: %d bytes reached the file system, want %d", d, size)
	}
}

func TestCorruptReads(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	mnt := f.Dir
	want := pattern(verifySize)
	f.CorruptReads("*.mov", 5000)

	// The writer fsyncs, drops its pages and reads back through the same
	// descriptor: the read reaches the file system and is corrupted.
	got := runChild(t, "writeverify", mnt+"/clip.mov", "drop")
	checkFlips(t, "read-back after DONTNEED", got, want, map[int64]byte{5000: 0x01})
	if !bytes.Equal(readFile(t, filepath.Join(backing, "clip.mov")), want) {
		t.Error("the backing file itself was changed")
	}
	// Another process opening it later sees the corruption too.
	checkFlips(t, "cat", mustRun(t, "cat", mnt+"/clip.mov"), want, map[int64]byte{5000: 0x01})

	// Without dropping the pages, the read-back is served from the page
	// cache the write filled, and the fault does not show. That is normal
	// FUSE behaviour, and why editkit drops them.
	got = runChild(t, "writeverify", mnt+"/clip2.mov", "keep")
	checkFlips(t, "read-back from the page cache", got, want, nil)

	// Other names, and a glob with a folder.
	writeFile(t, filepath.Join(backing, "clip.txt"), want)
	checkFlips(t, "non-matching file", mustRun(t, "cat", mnt+"/clip.txt"), want, nil)
	mustRun(t, "mkdir", mnt+"/sub")
	writeFile(t, filepath.Join(backing, "sub/a.mxf"), want)
	writeFile(t, filepath.Join(backing, "a.mxf"), want)
	f.CorruptReads("sub/*.mxf", 0)
	checkFlips(t, "sub/a.mxf", mustRun(t, "cat", mnt+"/sub/a.mxf"), want, map[int64]byte{0: 0x01})
	checkFlips(t, "a.mxf", mustRun(t, "cat", mnt+"/a.mxf"), want, nil)

	f.Reset()
	checkFlips(t, "after Reset", mustRun(t, "cat", mnt+"/clip.mov"), want, nil)
}

func TestFailReads(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	data := pattern(200_000)
	writeFile(t, filepath.Join(backing, "bad.bin"), data)
	writeFile(t, filepath.Join(backing, "good.bin"), data)
	f.FailReads("bad.bin", 50_000, syscall.EIO)

	out, stderr, err := run(t, "cat", f.Dir+"/bad.bin")
	if err == nil || !strings.Contains(stderr, "Input/output error") {
		t.Fatalf("cat of a failing file: %v, %q", err, stderr)
	}
	if len(out) > 50_000 || !bytes.Equal(out, data[:len(out)]) {
		t.Errorf("cat of a failing file printed %d bytes, not a prefix of the data up to 50000", len(out))
	}
	t.Logf("cat got %d bytes, then: %s", len(out), strings.TrimSpace(stderr))
	if f.Stats().ReadsFailed == 0 {
		t.Error("Stats.ReadsFailed is 0")
	}
	if got := mustRun(t, "cat", f.Dir+"/good.bin"); !bytes.Equal(got, data) {
		t.Error("a file not matching the glob does not read back")
	}

	// Any errno gets through to the reader.
	f.FailReads("good.bin", 0, syscall.EREMOTEIO)
	if _, stderr, err := run(t, "cat", f.Dir+"/good.bin"); err == nil || !strings.Contains(stderr, "Remote I/O error") {
		t.Errorf("cat with EREMOTEIO: %v, %q", err, stderr)
	}
}

func TestFailWritesAfter(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	mnt := f.Dir
	const limit = 1<<20 + 100
	f.FailWritesAfter(limit, syscall.ENOSPC)

	_, stderr, err := run(t, "dd", "if=/dev/zero", "of="+mnt+"/big", "bs=64k", "count=64")
	if err == nil || !strings.Contains(stderr, "No space left on device") {
		t.Fatalf("dd onto a full drive: %v, %q", err, stderr)
	}
	t.Logf("dd: %s", strings.ReplaceAll(strings.TrimSpace(stderr), "\n", " | "))
	if fi := stat(t, filepath.Join(backing, "big")); fi.Size() != limit {
		t.Errorf("the drive took %d bytes, want %d", fi.Size(), limit)
	}
	for _, cmd := range [][]string{{"touch", mnt + "/new"}, {"mkdir", mnt + "/dir"}} {
		if _, stderr, err := run(t, cmd[0], cmd[1:]...); err == nil || !strings.Contains(stderr, "No space left on device") {
			t.Errorf("%s on a full drive: %v, %q", cmd[0], err, stderr)
		}
	}
	if n := f.Stats().WritesFailed; n < 3 {
		t.Errorf("Stats.WritesFailed = %d", n)
	}

	// A drive that dies at once.
	f.FailWritesAfter(0, syscall.EIO)
	if _, stderr, err := run(t, "dd", "if=/dev/zero", "of="+mnt+"/big", "bs=4k", "count=1", "conv=notrunc"); err == nil || !strings.Contains(stderr, "Input/output error") {
		t.Errorf("dd onto a dead drive: %v, %q", err, stderr)
	}

	f.Reset()
	mustRun(t, "dd", "if=/dev/zero", "of="+mnt+"/after", "bs=64k", "count=4")
}

func TestChangeContent(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	mnt := f.Dir
	data := pattern(3*changePage + 100)
	writeFile(t, filepath.Join(backing, "a.src"), data)
	writeFile(t, filepath.Join(backing, "b.src"), data)
	changed := map[int64]byte{0: 0xFF, changePage: 0xFF, 2 * changePage: 0xFF, 3 * changePage: 0xFF}
	f.ChangeContent("*.src")

	before := mustRun(t, "stat", "-c", "%s %y", mnt+"/a.src")
	checkFlips(t, "first open", mustRun(t, "cat", mnt+"/a.src"), data, nil)
	checkFlips(t, "second open", mustRun(t, "cat", mnt+"/a.src"), data, changed)
	checkFlips(t, "third open", mustRun(t, "cat", mnt+"/a.src"), data, changed)
	if after := mustRun(t, "stat", "-c", "%s %y", mnt+"/a.src"); !bytes.Equal(before, after) {
		t.Errorf("size and mtime changed: %q, then %q", before, after)
	}

	// Re-reading through the same descriptor after dropping the pages, as
	// editkit checks its source, also sees the change.
	out := runChild(t, "reread", mnt+"/b.src")
	if len(out) != 2*len(data) {
		t.Fatalf("re-read: %d bytes, want %d", len(out), 2*len(data))
	}
	checkFlips(t, "re-read, first pass", out[:len(data)], data, nil)
	checkFlips(t, "re-read, second pass", out[len(data):], data, changed)
}

func TestUnmountDuringWrite(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // never leave dd writing 10 GB
	defer cancel()
	dd := exec.CommandContext(ctx, "dd", "if=/dev/zero", "of="+f.Dir+"/x", "bs=1M", "count=10000")
	var stderr bytes.Buffer
	dd.Stderr = &stderr
	if err := dd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dd.Wait() }()
	waitFor(t, "dd to write 8 MiB", func() bool {
		fi, err := os.Stat(filepath.Join(backing, "x"))
		return err == nil && fi.Size() >= 8<<20
	})

	start := time.Now()
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("dd exited %v, %v after Unmount: %s", err, time.Since(start).Round(time.Millisecond),
			strings.ReplaceAll(strings.TrimSpace(stderr.String()), "\n", " | "))
		if err == nil || !strings.Contains(stderr.String(), "Input/output error") {
			t.Errorf("dd after Unmount: %v, want an I/O error", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("dd still running a minute after Unmount")
	}
	if fi := stat(t, filepath.Join(backing, "x")); fi.Size() >= 10000<<20 {
		t.Errorf("dd wrote everything: %d bytes", fi.Size())
	}
	if _, err := os.Stat(f.Dir + "/x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of a path on the unmounted drive: %v, want ENOENT", err)
	}
	select {
	case <-f.stopped:
	case <-time.After(hangTimeout):
		t.Error("server still running after the last file was closed")
	}
}

func TestUnmountDuringRead(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	writeFile(t, filepath.Join(backing, "x"), pattern(4<<20))
	c, stdout, _ := startChild(t, "readloop", f.Dir+"/x")
	if line, err := stdout.ReadString('\n'); line != "ready\n" {
		t.Fatalf("reader: %q, %v", line, err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		t.Logf("reader exited %v: %s", err, strings.TrimSpace(c.Stderr.(*bytes.Buffer).String()))
		if err == nil || !strings.Contains(c.Stderr.(*bytes.Buffer).String(), "input/output error") {
			t.Errorf("reader after Unmount: %v, want an I/O error", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("reader still running a minute after Unmount")
	}
}

// TestUnmountObserved records what a process holding a file open on the
// drive sees after it is pulled.
func TestUnmountObserved(t *testing.T) {
	backing := t.TempDir()
	f := MustMount(t, backing)
	c, stdout, stdin := startChild(t, "yank", f.Dir+"/x")
	if line, err := stdout.ReadString('\n'); line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin)
	rest, _ := io.ReadAll(stdout)
	if err := c.Wait(); err != nil {
		t.Fatalf("child: %v: %s", err, c.Stderr)
	}
	got := map[string]string{}
	for line := range strings.Lines(string(rest)) {
		op, res, _ := strings.Cut(strings.TrimSpace(line), ": ")
		got[op] = res
	}
	t.Logf("after Unmount: %v", got)
	want := map[string]string{
		"read":            "EIO",
		"write":           "EIO",
		"fsync":           "EIO",
		"fstat":           "EIO",
		"open":            "ENOENT",
		"stat-mountpoint": "ENOENT",
		"mkdir":           "ENOENT",
	}
	for op, w := range want {
		if got[op] != w {
			t.Errorf("%s after Unmount: %s, want %s", op, got[op], w)
		}
	}
}

func TestMustMountBadBacking(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	if f := MustMount(rec, filepath.Join(t.TempDir(), "missing")); f != nil || !strings.Contains(rec.msg, "backing folder") {
		t.Errorf("MustMount of a missing folder: %v, %q", f, rec.msg)
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		glob, rel string
		want      bool
	}{
		{"*.mov", "a.mov", true},
		{"*.mov", "day1/cam/a.mov", true},
		{"*.mov", "a.mxf", false},
		{"day1/*/a.mov", "day1/cam/a.mov", true},
		{"day1/*.mov", "day1/cam/a.mov", false},
		{"a.mov", "x/a.mov", true},
		{"*", "x/.editkit-tmp", true},
	} {
		if got := matches(c.glob, c.rel); got != c.want {
			t.Errorf("matches(%q, %q) = %v", c.glob, c.rel, got)
		}
	}
}

func TestBadGlobPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("CorruptReads with a malformed glob did not panic")
		}
	}()
	(&FS{}).CorruptReads("[", 0)
}

func TestSpans(t *testing.T) {
	var s spans
	for _, r := range [][2]int64{{8, 12}, {0, 4}, {20, 30}, {4, 8}, {25, 40}} {
		s.add(r[0], r[1])
	}
	if want := [][2]int64{{0, 12}, {20, 40}}; fmt.Sprint(s.s) != fmt.Sprint(want) {
		t.Fatalf("spans %v, want %v", s.s, want)
	}
	for x, want := range map[int64]bool{0: true, 11: true, 12: false, 19: false, 20: true, 39: true, 40: false} {
		if s.contains(x) != want {
			t.Errorf("contains(%d) = %v", x, !want)
		}
	}
}

// TestMustMountReleasesLeakedFiles checks the cleanup that keeps a test
// binary that leaked a file on its own mount from hanging at exit.
func TestMustMountReleasesLeakedFiles(t *testing.T) {
	rec := &cleanupRecorder{TB: t}
	defer rec.cleanup()
	f := MustMount(rec, t.TempDir())
	leaked, err := os.Create(f.Dir + "/leak")
	if err != nil {
		t.Fatal(err)
	}
	defer leaked.Close()
	rec.cleanup()
	if !strings.Contains(rec.errs, "left 1 files open") {
		t.Errorf("cleanup reported %q", rec.errs)
	}
	var st, null unix.Stat_t
	if err := unix.Fstat(int(leaked.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/dev/null", &null); err != nil {
		t.Fatal(err)
	}
	if st.Rdev != null.Rdev {
		t.Errorf("the leaked descriptor is not /dev/null: %+v", st)
	}
	select {
	case <-f.stopped:
	case <-time.After(hangTimeout):
		t.Error("server still running after the cleanup")
	}
}

// cleanupRecorder stands in for a test to run MustMount's cleanup early and
// catch what it reports.
type cleanupRecorder struct {
	testing.TB
	fns  []func()
	errs string
}

func (r *cleanupRecorder) Cleanup(fn func()) { r.fns = append(r.fns, fn) }

func (r *cleanupRecorder) Errorf(format string, args ...any) {
	r.errs += fmt.Sprintf(format, args...) + "\n"
}

func (r *cleanupRecorder) cleanup() {
	for len(r.fns) > 0 {
		fn := r.fns[len(r.fns)-1]
		r.fns = r.fns[:len(r.fns)-1]
		fn()
	}
}

// fatalRecorder stands in for a test to catch MustMount's Fatalf.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

// checkFlips fails unless got is want with the bytes at the given offsets
// XORed with the given values.
func checkFlips(t *testing.T, what string, got, want []byte, flips map[int64]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d bytes, want %d", what, len(got), len(want))
		return
	}
	bad := 0
	for i := range got {
		if d := got[i] ^ want[i]; d != flips[int64(i)] {
			if bad++; bad <= 5 {
				t.Errorf("%s: byte %d is %#02x XOR the data, want %#02x", what, i, d, flips[int64(i)])
			}
		}
	}
}

func run(t *testing.T, name string, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, name, args...)
	c.Stdout, c.Stderr = &out, &errb
	err = c.Run()
	return out.Bytes(), errb.String(), err
}

func mustRun(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, stderr, err := run(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr)
	}
	return out
}

// runChild runs the test binary in a child mode (see child_test.go).
func runChild(t *testing.T, mode string, args ...string) []byte {
	t.Helper()
	c := childCmd(mode, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("child %s: %v: %s", mode, err, errb.String())
	}
	return out.Bytes()
}

// startChild starts a child mode and returns it with its stdout and stdin;
// its stderr is a *bytes.Buffer. The child is killed when the test ends.
func startChild(t *testing.T, mode string, args ...string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	c := childCmd(mode, args...)
	c.Stderr = &bytes.Buffer{}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill() })
	return c, bufio.NewReader(stdout), stdin
}

func childCmd(mode string, args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], args...)
	// A race-enabled binary sleeps a second on exit unless told not to.
	c.Env = append(os.Environ(), childEnv+"="+mode, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	return c
}

// hangTimeout is how long a test waits for something that must happen
// before it calls it a hang: a watchdog, not a measurement, so generous
// enough for a loaded machine.
const hangTimeout = time.Minute

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangTimeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stat(t *testing.T, name string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
