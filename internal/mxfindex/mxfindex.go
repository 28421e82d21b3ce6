// Package mxfindex fills in the MXF header metadata (internal/mxf) of media
// editkit already holds but recorded before it read MXF headers: the records
// of a drive's manifest and the items of the hub's catalog. It reads only
// headers (a few kilobytes per file, through a few range reads for the hub),
// is idempotent (what has metadata is skipped) and resumable (what is done
// is recorded as it goes).
package mxfindex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mxf"
)

// Result counts what an index run found.
type Result struct {
	Indexed    int       `json:"indexed"`    // MXF metadata read and recorded now
	Already    int       `json:"already"`    // had it from before
	NotMXF     int       `json:"not_mxf"`    // not an MXF file: nothing to record
	Unreadable int       `json:"unreadable"` // an MXF file whose header could not be read (recorded as no MXF metadata)
	Problems   []Problem `json:"problems,omitempty"`
}

// Problem is an MXF file whose header could not be read, and why.
type Problem struct {
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// maxProblems caps the problems listed (the count is always whole).
const maxProblems = 100

func (r *Result) unreadable(path string, err error) {
	r.Unreadable++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, Problem{Path: path, Detail: err.Error()})
	}
}

// outcome files one file's header read into the result; it returns the
// Info to record, or nil.
func (r *Result) outcome(path string, info *mxf.Info, err error) *mxf.Info {
	switch {
	case err == nil:
		r.Indexed++
		return info
	case errors.Is(err, mxf.ErrNotMXF):
		r.NotMXF++
	default:
		r.unreadable(path, err)
	}
	return nil
}

// flushEvery is how many indexed records a drive run appends between
// journal flushes: an interrupted run keeps what it did.
const flushEvery = 256

// Drive indexes the drive at root: each manifest record of an MXF file
// without metadata gets it, read from the file on the drive if the file is
// still as recorded (size and modification time). It takes the drive's lock.
func Drive(ctx context.Context, root string) (*Result, error) {
	drv, err := manifest.OpenForWrite(root)
	if err != nil {
		return nil, err
	}
	defer drv.Close()
	res := &Result{}
	// Collect first: the journal is appended to below.
	var todo []manifest.Record
	for r, err := range drv.Records() {
		if err != nil {
			return nil, err
		}
		switch {
		case r.Dir || r.Deleted:
		case r.MXF != nil:
			res.Already++
		case !mxf.IsMXFName(r.Path):
			res.NotMXF++
		default:
			todo = append(todo, r)
		}
	}
	dir, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	pending := 0
	for _, r := range todo {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(err, drv.Sync())
		}
		info, err := readRecorded(dir, r)
		if r.MXF = res.outcome(r.Path, info, err); r.MXF == nil {
			continue
		}
		if err := drv.Append(r); err != nil {
			return res, err
		}
		if pending++; pending%flushEvery == 0 {
			if err := drv.Flush(); err != nil {
				return res, err
			}
		}
	}
	if err := drv.Sync(); err != nil {
		return res, err
	}
	if pending > 0 {
		if err := drv.Compact(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// readRecorded reads the header of the file a record names, within the
// drive (never through a link out of it), if the file is still the one
// recorded.
func readRecorded(dir *os.Root, r manifest.Record) (*mxf.Info, error) {
	rel := filepath.FromSlash(r.Path)
	fi, err := dir.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", r.Path)
	}
	f, err := dir.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !sameFile(fi, r) {
		return nil, fmt.Errorf("%s: changed since it was recorded (%d bytes, modified %s); run editkit verify on the drive", r.Path, fi.Size(), fi.ModTime().UTC().Format("2006-01-02 15:04:05"))
	}
	info, err := mxf.ReadHeader(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	return info, nil
}

func sameFile(fi fs.FileInfo, r manifest.Record) bool {
	return fi.Size() == r.Size && (r.ModTime == 0 || fi.ModTime().UnixNano() == r.ModTime)
}
