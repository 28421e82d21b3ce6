package verify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/units"
)

// SurfaceDirPrefix names the hidden folder a drive test writes in, at the
// drive's root. Leftovers of a killed test are removed by the next one.
const SurfaceDirPrefix = ".editkit-drivetest-"

// SurfaceOptions configure a drive test.
type SurfaceOptions struct {
	run.Env
	Drive    string
	Size     int64  // bytes to write; -1 = all free space but a margin
	FileSize int64  // each test file; 0 = 1 GiB
	Seed     uint64 // 0 picks one
}

// Mismatch is a range of a test file that read back differently.
type Mismatch struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"` // differing bytes in this 1 MiB block
}

// SurfaceResult is what a drive test found.
type SurfaceResult struct {
	Drive      string        `json:"drive"`
	Bytes      int64         `json:"bytes"`
	Files      int           `json:"files"`
	WriteTime  time.Duration `json:"write_ns"`
	ReadTime   time.Duration `json:"read_ns"`
	WriteRate  float64       `json:"write_bytes_per_second"`
	ReadRate   float64       `json:"read_bytes_per_second"`
	BadBytes   int64         `json:"bad_bytes"`
	Mismatches []Mismatch    `json:"mismatches,omitempty"` // the first 100 bad blocks
	Errors     []string      `json:"errors,omitempty"`
}

// OK reports whether every byte written read back the same.
func (r *SurfaceResult) OK() bool { return r.BadBytes == 0 && len(r.Errors) == 0 }

const surfaceBlock = 1 << 20

// SurfaceTest writes pseudo-random data in large files into a hidden folder
// on the drive, reads it back from the medium and compares, as f3 and
// h2testw do: a counterfeit drive that is smaller than it claims, or a
// failing one, returns wrong data. Each 8 bytes depend on their position,
// so a drive that wraps around and returns earlier data is caught. The
// files are removed afterwards, whatever happens; nothing else on the drive
// is touched.
func SurfaceTest(ctx context.Context, o SurfaceOptions) (*SurfaceResult, error) {
	o.Env = o.Env.WithDefaults()
	if o.FileSize <= 0 {
		o.FileSize = 1 << 30
	}
	root, err := filepath.Abs(o.Drive)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, usagef("drive %s is not a folder; is it connected?", o.Drive)
	}
	// The test files go through the placement path: a folder of a fresh
	// name, reached without following links, removed at the end.
	pr, err := place.Open(root, place.Hooks{})
	if err != nil {
		return nil, err
	}
	removeSurfaceLeftovers(pr)
	space, err := fsx.FreeSpace(root)
	if err != nil {
		return nil, err
	}
	// Leave room for the file system's own needs.
	margin := max(64<<20, space.Total/100)
	avail := space.Free - margin
	size := o.Size
	if size < 0 {
		size = avail
	}
	if size <= 0 || size > avail {
		return nil, usagef("drive test of %s on %s: it has %s free (%s usable after a safety margin of %s); use a smaller --size",
			units.FormatBytes(max(size, 0)), o.Drive, units.FormatBytes(space.Free), units.FormatBytes(max(avail, 0)), units.FormatBytes(margin))
	}
	size = size / surfaceBlock * surfaceBlock
	if size == 0 {
		return nil, usagef("--size must be at least 1 MiB")
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	dirName := SurfaceDirPrefix + fsx.RandomID(4)
	if err := pr.MkdirAll(dirName); err != nil {
		return nil, err
	}
	defer pr.RemoveFolder(dirName)
	pd, err := pr.OpenDir(dirName, false)
	if err != nil {
		return nil, err
	}
	defer pd.Close()

	res := &SurfaceResult{Drive: o.Drive}
	o.Progress.AddTotal(2*size, 0)
	var files []string
	start := time.Now()
	for off, i := int64(0), 0; off < size; i++ {
		n := min(o.FileSize, size-off)
		name := filepath.Join(pr.Join(dirName), fmt.Sprintf("%04d.bin", i))
		files = append(files, name)
		if err := writePattern(ctx, pd, name, o.Seed, uint64(i), n, o.Progress); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Errors = append(res.Errors, err.Error())
			size = off // test what was written
			files = files[:len(files)-1]
			break
		}
		off += n
		res.Bytes += n
	}
	res.WriteTime = time.Since(start)
	res.Files = len(files)

	start = time.Now()
	for i, name := range files {
		if err := checkPattern(ctx, pd, name, o.Seed, uint64(i), res, o.Progress); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Errors = append(res.Errors, err.Error())
		}
	}
	res.ReadTime = time.Since(start)
	if s := res.WriteTime.Seconds(); s > 0 {
		res.WriteRate = float64(res.Bytes) / s
	}
	if s := res.ReadTime.Seconds(); s > 0 {
		res.ReadRate = float64(res.Bytes) / s
	}
	return res, nil
}

// fillPattern fills b with the test data for file at offset off: every
// 8-byte word is a mix of the seed, the file and its position.
func fillPattern(b []byte, seed, file uint64, off int64) {
	base := seed ^ file*0x9e3779b97f4a7c15
	for i := 0; i+8 <= len(b); i += 8 {
		x := base + uint64(off+int64(i))
		// splitmix64 finalizer
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		binary.LittleEndian.PutUint64(b[i:], x)
	}
}

func writePattern(ctx context.Context, d *place.Dir, name string, seed, file uint64, n int64, p run.Progress) error {
	f, err := d.OpenFile(filepath.Base(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, surfaceBlock)
	for off := int64(0); off < n; off += surfaceBlock {
		if err := ctx.Err(); err != nil {
			return err
		}
		fillPattern(buf, seed, file, off)
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("write %s at %d: %w", name, off, err)
		}
		if off%(64<<20) == 0 {
			fsx.StartWriteback(f, max(0, off-64<<20), 64<<20)
		}
		p.Add(surfaceBlock)
	}
	if err := fsx.Sync(f); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := fsx.DropCache(f); err != nil {
		return err
	}
	return f.Close()
}

func checkPattern(ctx context.Context, d *place.Dir, name string, seed, file uint64, res *SurfaceResult, p run.Progress) error {
	f, err := d.OpenFile(filepath.Base(name), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fsx.ReadFromMedium(f); err != nil {
		return err
	}
	want := make([]byte, surfaceBlock)
	got := make([]byte, surfaceBlock)
	for off := int64(0); ; off += surfaceBlock {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := io.ReadFull(f, got)
		if k > 0 {
			fillPattern(want, seed, file, off)
			var bad int64
			for i := 0; i < k; i++ {
				if got[i] != want[i] {
					bad++
				}
			}
			if bad > 0 {
				res.BadBytes += bad
				if len(res.Mismatches) < 100 {
					res.Mismatches = append(res.Mismatches, Mismatch{File: filepath.Base(name), Offset: off, Bytes: bad})
				}
			}
			fsx.Forget(f, off, int64(k))
			p.Add(int64(k))
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s at %d: %w", name, off, err)
		}
	}
}

// removeSurfaceLeftovers deletes the test folders of a drive test that was
// killed before it could clean up.
func removeSurfaceLeftovers(pr *place.Root) {
	entries, _ := os.ReadDir(pr.Path())
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), SurfaceDirPrefix) {
			pr.RemoveFolder(e.Name())
		}
	}
}
