package manifest

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"github.com/editkit/editkit/internal/treepath"
)

type header struct {
	Format string `json:"format"`
	Drive  string `json:"drive"`
	MaxSeq uint64 `json:"max_seq"` // highest seq in the body, so opening needs only this line
}

type trailer struct {
	End     bool  `json:"end"`
	Records int64 `json:"records"`
}

// compareRecords orders records by path in tree order, then by seq.
func compareRecords(a, b Record) int {
	if c := treepath.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// Records streams the manifest in tree order, newest record per path,
// including what the journal holds beyond the last compaction (sorted in
// memory, so a writer should Compact first when the journal may be large).
func (d *Drive) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		journal, err := collectRecords(d.journalRecords())
		if err != nil {
			yield(Record{}, err)
			return
		}
		minSeq := uint64(0)
		for _, r := range journal {
			if minSeq == 0 || r.Seq < minSeq {
				minSeq = r.Seq
			}
		}
		if err := d.checkBaseExists(minSeq); err != nil {
			yield(Record{}, err)
			return
		}
		slices.SortFunc(journal, compareRecords)
		sources := []iter.Seq2[Record, error]{d.baseRecords()}
		if len(journal) > 0 { // none just after a compaction
			sources = append(sources, slices2Seq(journal))
		}
		for r, err := range newest(mergeSorted(sources)) {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if r.Deleted {
				continue
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// lineFile streams the records read from the lines of the file at path; a
// missing file has none, one that cannot be opened yields the error.
func lineFile(path string, read func(lr *lineReader, yield func(Record, error) bool)) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			yield(Record{}, err)
			return
		}
		defer f.Close()
		read(newLineReader(f, path), yield)
	}
}

// readBase streams manifest.ekm, checking its header, line checksums, order
// and trailer. A missing file is an empty manifest.
func readBase(path string) iter.Seq2[Record, error] {
	return lineFile(path, func(lr *lineReader, yield func(Record, error) bool) {
		damaged := func(what string, err error) {
			yield(Record{}, damagedFile(path, what, err))
		}
		body, err := lr.next()
		if err != nil {
			if err == io.EOF {
				err = errors.New("the file is empty")
			} else {
				_, err = describeDamage(err, 1)
			}
			damaged("header", err)
			return
		}
		var h header
		if err := json.Unmarshal(body, &h); err != nil || h.Format != manifestFormat {
			damaged("header", fmt.Errorf("format %q, want %q", h.Format, manifestFormat))
			return
		}
		var prev Record
		var n int64
		for {
			body, err := lr.next()
			if err == io.EOF {
				damaged("trailer", errors.New("missing: the file is truncated"))
				return
			}
			if err != nil {
				damaged(describeDamage(err, lr.line+1))
				return
			}
			var r Record
			if err := json.Unmarshal(body, &r); err != nil {
				damaged(fmt.Sprintf("line %d", lr.line), err)
				return
			}
			if r.Seq > h.MaxSeq {
				damaged(fmt.Sprintf("line %d", lr.line), fmt.Errorf("seq %d is above the header's %d", r.Seq, h.MaxSeq))
				return
			}
			if r.Path == "" {
				var t trailer
				if err := json.Unmarshal(body, &t); err != nil || !t.End {
					damaged(fmt.Sprintf("line %d", lr.line), errors.New("record without a path"))
					return
				}
				if t.Records != n {
					damaged("trailer", fmt.Errorf("%d records, trailer says %d", n, t.Records))
					return
				}
				if _, err := lr.next(); err != io.EOF {
					damaged(fmt.Sprintf("line %d", lr.line+1), errors.New("data after the trailer"))
				}
				return
			}
			if err := treepath.Validate(r.Path); err != nil {
				damaged(fmt.Sprintf("line %d", lr.line), err)
				return
			}
			if n > 0 && compareRecords(prev, r) >= 0 {
				damaged(fmt.Sprintf("line %d", lr.line), fmt.Errorf("%q is out of order", r.Path))
				return
			}
			prev = r
			n++
			if !yield(r, nil) {
				return
			}
		}
	})
}

// collectRecords gathers a stream's records.
func collectRecords(recs iter.Seq2[Record, error]) ([]Record, error) {
	var out []Record
	for r, err := range recs {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func journalRecords(path string) iter.Seq2[Record, error] {
	return lineFile(path, readJournal)
}

// readJournal yields the records on the lines lr reads: a journal's, or a
// compaction run's.
func readJournal(lr *lineReader, yield func(Record, error) bool) {
	path := lr.name
	for {
		body, err := lr.next()
		if err == io.EOF {
			return
		}
		if errors.Is(err, errTorn) {
			if lr.restHasIntactLine() {
				what, cause := describeDamage(err, lr.line)
				yield(Record{}, damagedFile(path, what, fmt.Errorf("%w, followed by intact lines", cause)))
			}
			return // a crash's torn tail: everything before it stands
		}
		if err != nil {
			yield(Record{}, err)
			return
		}
		var r Record
		if err := json.Unmarshal(body, &r); err != nil {
			yield(Record{}, damagedFile(path, fmt.Sprintf("line %d", lr.line), err))
			return
		}
		if err := treepath.Validate(r.Path); err != nil {
			yield(Record{}, damagedFile(path, fmt.Sprintf("line %d", lr.line), err))
			return
		}
		if !yield(r, nil) {
			return
		}
	}
}

func slices2Seq(rs []Record) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// mergeSorted merges streams that are each sorted by compareRecords.
func mergeSorted(sources []iter.Seq2[Record, error]) iter.Seq2[Record, error] {
	if len(sources) == 1 {
		return sources[0] // nothing to merge: no coroutine switch per record
	}
	return func(yield func(Record, error) bool) {
		h := &recordHeap{}
		var stops []func()
		defer func() {
			for _, stop := range stops {
				stop()
			}
		}()
		for _, s := range sources {
			next, stop := iter.Pull2(s)
			stops = append(stops, stop)
			if r, err, ok := next(); ok {
				if err != nil {
					yield(Record{}, err)
					return
				}
				heap.Push(h, cursorItem{r, next})
			}
		}
		for h.Len() > 0 {
			top := (*h)[0]
			if !yield(top.rec, nil) {
				return
			}
			r, err, ok := top.next()
			switch {
			case !ok:
				heap.Pop(h)
			case err != nil:
				yield(Record{}, err)
				return
			default:
				(*h)[0].rec = r
				heap.Fix(h, 0)
			}
		}
	}
}

// newest keeps, of consecutive records for the same path, the last one
// (the highest seq, given compareRecords order).
func newest(s iter.Seq2[Record, error]) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		var pending Record
		have := false
		for r, err := range s {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if have && pending.Path != r.Path {
				if !yield(pending, nil) {
					return
				}
			}
			pending, have = r, true
		}
		if have {
			yield(pending, nil)
		}
	}
}

type cursorItem struct {
	rec  Record
	next func() (Record, error, bool)
}

type recordHeap []cursorItem

func (h recordHeap) Len() int           { return len(h) }
func (h recordHeap) Less(i, j int) bool { return compareRecords(h[i].rec, h[j].rec) < 0 }
func (h recordHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *recordHeap) Push(x any)        { *h = append(*h, x.(cursorItem)) }
func (h *recordHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Cursor looks records up while walking a tree in tree order: each Seek must
// name a path at or after the previous one. It reads the manifest as a
// stream, so a million-file manifest costs no memory.
type Cursor struct {
	next func() (Record, error, bool)
	stop func()
	cur  Record
	have bool
	done bool
	err  error
}

// Cursor returns a Cursor over Records as they are now: records appended
// later are not seen. Close it when done.
func (d *Drive) Cursor() *Cursor {
	next, stop := iter.Pull2(d.Records())
	c := &Cursor{next: next, stop: stop}
	// Pull the first record now, which reads the journal now.
	r, err, ok := next()
	switch {
	case !ok:
		c.done = true
	case err != nil:
		c.err = err
	default:
		c.cur, c.have = r, true
	}
	return c
}

// Seek returns the record for path, if the manifest has one.
func (c *Cursor) Seek(path string) (Record, bool, error) {
	for {
		if c.err != nil {
			return Record{}, false, c.err
		}
		if !c.have {
			if c.done {
				return Record{}, false, nil
			}
			r, err, ok := c.next()
			if !ok {
				c.done = true
				return Record{}, false, nil
			}
			if err != nil {
				c.err = err
				continue
			}
			c.cur, c.have = r, true
		}
		switch cmp := treepath.Compare(c.cur.Path, path); {
		case cmp == 0:
			return c.cur, true, nil
		case cmp > 0:
			return Record{}, false, nil
		}
		c.have = false
	}
}

// Close releases the cursor.
func (c *Cursor) Close() { c.stop() }

func (d *Drive) maxSeq() (uint64, error) {
	max, err := baseMaxSeq(d.path(baseFile))
	if err != nil {
		return 0, err
	}
	minSeq := uint64(0)
	for r, err := range journalRecords(d.path(journalFile)) {
		if err != nil {
			return 0, err
		}
		max = maxU(max, r.Seq)
		if minSeq == 0 || r.Seq < minSeq {
			minSeq = r.Seq
		}
	}
	if err := d.checkBaseExists(minSeq); err != nil {
		return 0, err
	}
	return max, nil
}

// checkBaseExists reports a manifest.ekm that is gone although the drive
// had one: the journal (whose lowest seq is journalMin, 0 if it is empty)
// starts after records only a compaction can have moved out of it, or the
// drive's ASC MHL history was written from records the journal no longer
// holds. A drive whose first copy was interrupted before any compaction
// has only a journal starting at seq 1, which is complete.
func (d *Drive) checkBaseExists(journalMin uint64) error {
	if _, err := os.Lstat(d.path(baseFile)); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	switch {
	case journalMin > 1:
		return damagedFile(d.path(baseFile), "missing", fmt.Errorf("the journal starts at record %d; records 1 to %d were in the manifest", journalMin, journalMin-1))
	case journalMin == 0 && d.Info.MHLThrough > 0:
		return damagedFile(d.path(baseFile), "missing", fmt.Errorf("its ASC MHL history was written from %d records; neither the manifest nor the journal holds them", d.Info.MHLThrough))
	}
	return nil
}

// baseMaxSeq reads only the header of manifest.ekm.
func baseMaxSeq(path string) (uint64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	body, err := newLineReader(f, path).next()
	if err == io.EOF {
		err = errors.New("the file is empty")
	} else if err != nil {
		_, err = describeDamage(err, 1)
	}
	if err != nil {
		return 0, damagedFile(path, "header", err)
	}
	var h header
	if err := json.Unmarshal(body, &h); err != nil || h.Format != manifestFormat {
		return 0, damagedFile(path, "header", fmt.Errorf("format %q, want %q", h.Format, manifestFormat))
	}
	return h.MaxSeq, nil
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
