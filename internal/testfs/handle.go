//go:build linux

package testfs

import (
	"bytes"
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// handle is an open file. It forwards to the loopback's file handle but is
// not one: it deliberately lacks PassthroughFd, and any file operation it
// does not list goes unimplemented rather than around the faults.
type handle struct {
	lf   *fs.LoopbackFile
	node *node
	fs   *FS

	// readOrdinal numbers this open among the opens that read the file,
	// per ChangeContent rule; guarded by FS.mu.
	readOrdinal map[*changeRule]int
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileWritever  = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileFsyncer   = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileGetattrer = (*handle)(nil)
	_ fs.FileSetattrer = (*handle)(nil)
	_ fs.FileStatxer   = (*handle)(nil)
	_ fs.FileAllocater = (*handle)(nil)
	_ fs.FileLseeker   = (*handle)(nil)
)

func (f *FS) newHandle(n *node, fh fs.FileHandle) *handle {
	f.mu.Lock()
	f.stats.Opens[n.rel()]++
	f.mu.Unlock()
	// The loopback's Open, Create and Tmpfile always return *LoopbackFile.
	return &handle{lf: fh.(*fs.LoopbackFile), node: n, fs: f, readOrdinal: map[*changeRule]int{}}
}

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.fs
	if errno := f.waitIfStalled(ctx); errno != 0 {
		return nil, errno
	}
	if f.gone.Load() {
		return nil, syscall.EIO
	}
	// Faults switched on while this read runs do not apply to it.
	f.mu.Lock()
	fl := f.faults
	f.mu.Unlock()

	res, errno := h.lf.Read(ctx, dest, off)
	if errno != 0 {
		return nil, errno
	}
	// The loopback would splice from the backing file; the faults need the
	// bytes.
	data, st := res.Bytes(dest)
	if !st.Ok() {
		return nil, syscall.Errno(st)
	}
	var rel string
	if fl.readsAffected() {
		rel = h.node.rel() // outside f.mu: it takes go-fuse's locks
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.applyReadFaults(fl, h, rel, data, off); errno != 0 {
		return nil, errno
	}
	f.stats.BytesRead += int64(len(data))
	return fuse.ReadResultData(data), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	f := h.fs
	if f.gone.Load() {
		return 0, syscall.EIO
	}
	f.mu.Lock()
	budget := f.faults.writes
	k, errno := budget.take(len(data))
	if errno != 0 {
		f.stats.WritesFailed++
	}
	f.mu.Unlock()
	if errno != 0 {
		return 0, errno
	}
	n, errno := h.lf.Write(ctx, data[:k], off)
	f.mu.Lock()
	f.stats.BytesWritten += int64(n)
	if budget != nil && int(n) < k {
		budget.left += int64(k) - int64(n) // give back what was not written
	}
	f.mu.Unlock()
	return n, errno
}

// Writev joins the pieces so that the budget and counters live in Write.
func (h *handle) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	if len(data) == 1 {
		return h.Write(ctx, data[0], off)
	}
	return h.Write(ctx, bytes.Join(data, nil), off)
}

func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if errno := h.node.noSpace(); errno != 0 {
		return errno
	}
	return h.lf.Allocate(ctx, off, size, mode)
}

func (h *handle) Flush(ctx context.Context) syscall.Errno {
	if h.fs.gone.Load() {
		return syscall.EIO
	}
	return h.lf.Flush(ctx)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if h.fs.gone.Load() {
		return syscall.EIO
	}
	return h.lf.Fsync(ctx, flags)
}

// Release always closes the backing file, gone or not.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	return h.lf.Release(ctx)
}

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	if h.fs.gone.Load() {
		return syscall.EIO
	}
	return h.lf.Getattr(ctx, out)
}

func (h *handle) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if h.fs.gone.Load() {
		return syscall.EIO
	}
	return h.lf.Setattr(ctx, in, out)
}

func (h *handle) Statx(ctx context.Context, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	if h.fs.gone.Load() {
		return syscall.EIO
	}
	return h.lf.Statx(ctx, flags, mask, out)
}

func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	if h.fs.gone.Load() {
		return 0, syscall.EIO
	}
	return h.lf.Lseek(ctx, off, whence)
}

// dirHandle is an open folder: the loopback's, failing once the drive is
// gone.
type dirHandle struct {
	ds fs.FileHandle
	fs *FS
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileFsyncdirer   = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
)

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if d.fs.gone.Load() {
		return nil, syscall.EIO
	}
	if r, ok := d.ds.(fs.FileReaddirenter); ok {
		return r.Readdirent(ctx)
	}
	return nil, syscall.ENOTSUP
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if d.fs.gone.Load() {
		return syscall.EIO
	}
	if s, ok := d.ds.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	if d.fs.gone.Load() {
		return syscall.EIO
	}
	if s, ok := d.ds.(fs.FileFsyncdirer); ok {
		return s.Fsyncdir(ctx, flags)
	}
	return syscall.ENOSYS // the kernel takes this as "nothing to do"
}

// Releasedir always releases, gone or not.
func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.ds.(fs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
	}
}
