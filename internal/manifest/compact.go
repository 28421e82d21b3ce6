package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/place"
)

// defaultRunSize is how many journal records are sorted in memory at once
// during compaction (about 40 MB); longer journals are sorted in runs on disk.
const defaultRunSize = 100_000

// Compact merges the journal into manifest.ekm. Safe at any moment: the new
// manifest replaces the old one atomically and the journal is removed only
// after that, and replaying it again changes nothing.
func (d *Drive) Compact() error {
	if !d.writable {
		return errors.New("drive opened read-only")
	}
	if err := d.journal.sync(); err != nil {
		return err
	}
	if fi, err := d.journal.f.Stat(); err != nil {
		return err
	} else if fi.Size() == 0 {
		return nil
	}
	runs, err := d.openRunsDir()
	if err != nil {
		return err
	}
	defer runs.remove()

	sources := []iter.Seq2[Record, error]{d.baseRecords()}
	// About how many records the new manifest holds (a fresh drive's
	// first compaction: exactly), so that what it keeps grows no slice.
	sizeHint := len(d.mem.base) + len(d.mem.journal)
	// Until the new manifest is in place, what it holds is not known.
	d.mem.base, d.mem.baseKnown = nil, false
	baseMax, err := baseMaxSeq(d.path(baseFile))
	if err != nil {
		return err
	}
	maxSeq := baseMax
	runSize := d.runSize
	if runSize <= 0 {
		runSize = defaultRunSize
	}
	var chunk []Record
	if d.mem.journalKnown {
		chunk = make([]Record, 0, min(runSize, len(d.mem.journal)))
	}
	nRuns := 0
	flush := func() error {
		slices.SortFunc(chunk, compareRecords)
		if nRuns == 0 && len(chunk) < runSize {
			// The journal's only run (the last flush): kept as it is.
			sources = append(sources, slices2Seq(chunk))
			chunk = nil
			return nil
		}
		name := fmt.Sprintf("run-%04d", nRuns)
		nRuns++
		run, err := runs.write(name, chunk)
		if err != nil {
			return err
		}
		sources = append(sources, run)
		chunk = chunk[:0]
		return nil
	}
	for r, err := range d.journalRecords() {
		if err != nil {
			return err
		}
		maxSeq = maxU(maxSeq, r.Seq)
		chunk = append(chunk, r)
		if len(chunk) == runSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}

	base, kept, err := d.writeBase(mergeSorted(sources), maxSeq, sizeHint)
	if err != nil {
		return err
	}
	// The new manifest holds everything; start a fresh journal.
	if err := d.journal.f.Truncate(0); err != nil {
		return fmt.Errorf("reset %s: %w", d.path(journalFile), err)
	}
	d.mem.compacted(base, kept)
	if _, err := d.journal.f.Seek(0, 0); err != nil {
		d.mem.journalKnown = false
		return err
	}
	d.journal.w.Reset(d.journal.f)
	return d.journal.f.Sync()
}

// writeBase writes the newest non-deleted record per path as the new
// manifest.ekm, atomically, and returns what it wrote when that is few
// enough to keep (kept); sizeHint is about how many there are.
func (d *Drive) writeBase(recs iter.Seq2[Record, error], maxSeq uint64, sizeHint int) (written []Record, kept bool, err error) {
	tmp := d.path(baseFile)
	limit := d.memLimit()
	kept = true
	written = make([]Record, 0, min(sizeHint, limit))
	err = d.root.WriteFile(DirName+"/"+baseFile, 0o644, func(w io.Writer) error {
		var line []byte
		var err error
		put := func(v any) error {
			line, err = appendLine(line[:0], v)
			if err != nil {
				return err
			}
			_, err = w.Write(line)
			return err
		}
		if err := put(header{Format: manifestFormat, Drive: d.Info.ID, MaxSeq: maxSeq}); err != nil {
			return err
		}
		var n int64
		for r, err := range newest(recs) {
			if err != nil {
				return err
			}
			if r.Deleted {
				continue
			}
			if line, err = appendRecordLine(line[:0], &r); err == nil {
				_, err = w.Write(line)
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", tmp, err)
			}
			n++
			if kept = kept && len(written) < limit; kept {
				written = append(written, r)
			} else {
				written = nil
			}
		}
		if err := put(trailer{End: true, Records: n}); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return written, kept, nil
}

// runsDir is the folder, in the drive's .editkit folder, that holds the
// sorted runs of a compaction while they are merged.
type runsDir struct {
	state, dir *place.Dir
	name       string
	files      []*os.File
}

// openRunsDir creates the runs folder, reached from the drive's root
// without following a link.
func (d *Drive) openRunsDir() (*runsDir, error) {
	state, err := d.stateDir(false)
	if err != nil {
		return nil, err
	}
	name := "compact-" + fsx.RandomID(8)
	dir, err := state.OpenDir(name, true)
	if err != nil {
		state.Close()
		return nil, err
	}
	return &runsDir{state: state, dir: dir, name: name}, nil
}

// write writes recs as the run name and returns them as read back from it.
// The file stays open (for the merge) until remove.
func (rd *runsDir) write(name string, recs []Record) (iter.Seq2[Record, error], error) {
	f, err := rd.dir.CreateExclusive(name, 0o600)
	if err != nil {
		return nil, err
	}
	rd.files = append(rd.files, f)
	path := f.Name()
	w := bufio.NewWriterSize(f, 256<<10)
	var line []byte
	for i := range recs {
		if line, err = appendRecordLine(line[:0], &recs[i]); err != nil {
			return nil, err
		}
		if _, err := w.Write(line); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return func(yield func(Record, error) bool) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			yield(Record{}, err)
			return
		}
		readJournal(newLineReader(f, path), yield)
	}, nil
}

// remove closes and removes the runs and their folder.
func (rd *runsDir) remove() {
	for _, f := range rd.files {
		f.Close()
		rd.dir.Remove(filepath.Base(f.Name()))
	}
	rd.dir.Close()
	rd.state.RemoveDir(rd.name)
	rd.state.Close()
}
