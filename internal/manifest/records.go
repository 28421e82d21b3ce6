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
		journal, err := readJournal(d.path(journalFile))
		if err != nil {
			yield(Record{}, err)
			return
		}
		slices.SortFunc(journal, compareRecords)
		sources := []iter.Seq2[Record, error]{readBase(d.path(baseFile)), slices2Seq(journal)}
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

// readBase streams manifest.ekm, checking its header, line checksums, order
// and trailer. A missing file is an empty manifest.
func readBase(path string) iter.Seq2[Record, error] {
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
		damaged := func(what string, err error) {
			yield(Record{}, fmt.Errorf("manifest %s is damaged (%s): %w; run `editkit verify --rebuild` on the drive", path, what, err))
		}
		lr := newLineReader(f, path)
		body, err := lr.next()
		if err != nil {
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
				damaged("trailer", errors.New("missing"))
				return
			}
			if err != nil {
				damaged("record", err)
				return
			}
			var r Record
			if err := json.Unmarshal(body, &r); err != nil {
				damaged(fmt.Sprintf("line %d", lr.line), err)
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
	}
}

// readJournal returns the journal's intact records; a torn tail is ignored.
func readJournal(path string) ([]Record, error) {
	var out []Record
	for r, err := range journalRecords(path) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func journalRecords(path string) iter.Seq2[Record, error] {
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
		lr := newLineReader(f, path)
		for {
			body, err := lr.next()
			if err == io.EOF || errors.Is(err, errTorn) {
				return // a crash's torn tail: everything before it stands
			}
			if err != nil {
				yield(Record{}, err)
				return
			}
			var r Record
			if err := json.Unmarshal(body, &r); err != nil {
				// The line's checksum matches, so this is not a crash's torn
				// tail but a line this editkit never wrote: stopping here
				// silently would hide every record after it, including
				// those appended later.
				yield(Record{}, fmt.Errorf("journal %s line %d is damaged: %w; run `editkit verify --rebuild` on the drive", path, lr.line, err))
				return
			}
			if treepath.Validate(r.Path) != nil {
				yield(Record{}, fmt.Errorf("journal %s line %d: bad path %q", path, lr.line, r.Path))
				return
			}
			if !yield(r, nil) {
				return
			}
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
	for r, err := range journalRecords(d.path(journalFile)) {
		if err != nil {
			return 0, err
		}
		max = maxU(max, r.Seq)
	}
	return max, nil
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
	if err != nil {
		return 0, fmt.Errorf("manifest %s is damaged (header): %w", path, err)
	}
	var h header
	if err := json.Unmarshal(body, &h); err != nil || h.Format != manifestFormat {
		return 0, fmt.Errorf("manifest %s is damaged (header): format %q, want %q", path, h.Format, manifestFormat)
	}
	return h.MaxSeq, nil
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
