// Package samplemedia owns editkit's sample editorial media: a deterministic
// generator of trees that look like what lands on an editor's drive (Avid MXF
// proxies and media databases, an Avid project with bins and Attic backups, a
// Pro Tools session with Broadcast WAV files) plus the hazards a copy has to
// survive: Mac and Windows junk, NFC and NFD names, empty and read-only files,
// deep nesting and, on request, names that exFAT and NTFS cannot hold.
//
// The same Options always produce the same names, bytes, modes and mtimes, so
// demos, tests and benchmarks can be rebuilt anywhere and compared by hash.
package samplemedia

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/editkit/editkit/internal/run"
)

// DefaultTotalBytes is the size of the realistic tree when Options.TotalBytes is 0.
const DefaultTotalBytes = 256 << 20

// ErrNotEmpty is wrapped by the error Generate returns when the target
// directory already has something in it: the generator never writes over
// anything it did not create.
var ErrNotEmpty = errors.New("directory is not empty")

// Options describe the tree to generate.
type Options struct {
	// Seed selects the tree: the same Seed and Options give a byte-identical
	// tree with the same names and mtimes.
	Seed uint64
	// TotalBytes sizes the realistic tree (0 means DefaultTotalBytes): the
	// whole tree comes to exactly TotalBytes, of which media (MXF and WAV)
	// is over 90% from about 10 MiB up, and the mix of files scales with
	// it. Below a couple of MiB the fixed skeleton (project, bins, junk)
	// makes the tree larger than asked.
	TotalBytes int64
	// ManyFiles, if > 0, replaces the realistic tree with this many small
	// files (1 B to 64 KiB, mostly under 4 KiB) in folders of about 200
	// entries, for scale tests. TotalBytes is ignored.
	ManyFiles int
	// Unportable adds an Unportable/ folder of names exFAT and NTFS cannot
	// hold or would merge. It needs a case-sensitive, normalization-preserving
	// file system (ext4, not APFS).
	Unportable bool
	// BaseTime anchors the mtimes: every file and folder is dated at or up to
	// a few weeks before it. The zero value means 2026-01-15T09:00:00Z.
	BaseTime time.Time
}

// Stats describe a generated tree. Files and Bytes count every regular file,
// including the junk, the Avid databases and the unportable names.
type Stats struct {
	Files int
	Dirs  int // folders created under the target directory, not counting it
	Bytes int64
	// Junk counts the files a copy should skip: .DS_Store, AppleDouble ._
	// files, Thumbs.db and everything under .Spotlight-V100, .fseventsd,
	// .Trashes and .TemporaryItems.
	Junk int
	// AvidDB counts msmMMOB.mdb and msmFMID.pmr files: Avid rebuilds them,
	// so a copy may skip them, but they are not junk.
	AvidDB int
	// Unportable counts the files under Unportable/ (0 unless asked for).
	Unportable int
}

// Generate creates the tree described by o in dir, which must be empty or not
// exist yet. On error, including cancellation of ctx, it stops early and
// leaves what it wrote so far for the caller to remove.
func Generate(ctx context.Context, dir string, o Options) (Stats, error) {
	if o.TotalBytes < 0 || o.ManyFiles < 0 {
		return Stats{}, fmt.Errorf("generate %s: negative size (TotalBytes %d, ManyFiles %d)", dir, o.TotalBytes, o.ManyFiles)
	}
	p := plan(o)
	if err := generate(ctx, dir, p); err != nil {
		return Stats{}, fmt.Errorf("generate %s: %w", dir, err)
	}
	return p.stats(), nil
}

func generate(ctx context.Context, dir string, p *tree) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := prepareRoot(dir); err != nil {
		return err
	}
	for _, d := range p.dirs {
		path := filepath.Join(dir, filepath.FromSlash(d.path))
		if err := os.Mkdir(path, 0o755); err != nil {
			return err
		}
		// Chmod so the modes do not depend on the umask: the tree must hash
		// the same everywhere.
		if err := os.Chmod(path, 0o755); err != nil {
			return err
		}
	}
	if err := writeFiles(ctx, dir, p); err != nil {
		return err
	}
	// Folders last, children before parents: creating an entry bumps its
	// folder's mtime, and Chtimes on a folder does not touch its parent.
	for i := len(p.dirs) - 1; i >= 0; i-- {
		d := p.dirs[i]
		path := filepath.Join(dir, filepath.FromSlash(d.path))
		if err := os.Chtimes(path, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// prepareRoot creates dir, or checks that it is an empty directory.
func prepareRoot(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	switch {
	case err == nil && len(names) > 0:
		return ErrNotEmpty
	case err == nil || errors.Is(err, io.EOF):
		return nil
	default:
		return err // includes "not a directory"
	}
}

// writeFiles writes the planned files with one worker per CPU: each file's
// bytes depend only on the seed and its path, so the order does not matter.
func writeFiles(ctx context.Context, root string, p *tree) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	files := run.NewPoolOfWorkers(ctx, min(runtime.GOMAXPROCS(0), 8), func() func(context.Context, *entry) {
		buf := make([]byte, chunkSize)
		return func(ctx context.Context, e *entry) {
			if err := writeFile(ctx, root, p.o.Seed, e, buf); err != nil {
				cancel(err) // the first error stops the others
			}
		}
	})
	for i := range p.files {
		if files.Submit(&p.files[i]) != nil {
			break
		}
	}
	files.Wait()
	return context.Cause(ctx)
}

// chunkSize is the size of each write: large enough that syscalls cost little
// next to filling the buffer, small enough to notice cancellation quickly.
const chunkSize = 1 << 20

func writeFile(ctx context.Context, root string, seed uint64, e *entry, buf []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path := filepath.Join(root, filepath.FromSlash(e.path))
	// O_EXCL: two planned names that the file system folds together (the
	// unportable pairs on a case-insensitive volume) must fail, not merge.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := writeContent(ctx, f, seed, e, buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(path, e.mtime, e.mtime)
}

// writeContent writes e's header followed by its fill, in chunks of buf.
func writeContent(ctx context.Context, f *os.File, seed uint64, e *entry, buf []byte) error {
	noise := newNoise(seed, e.path)
	for off := int64(0); off < e.size; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write %s: %w", f.Name(), err)
		}
		chunk := buf[:min(int64(len(buf)), e.size-off)]
		if e.zero {
			clear(chunk)
		} else {
			noise.fill(chunk)
		}
		if off < int64(len(e.head)) {
			copy(chunk, e.head[off:])
		}
		if _, err := f.Write(chunk); err != nil {
			return err
		}
		off += int64(len(chunk))
	}
	return f.Chmod(e.mode) // not left to the umask, like the folders
}
