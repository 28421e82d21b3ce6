package verify

import (
	"iter"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
)

// treeCursor steps through what a record (manifest, ASC MHL history) says
// is on the drive, in tree order, alongside a walk of the drive in the same
// order: the merge every verify mode makes without loading either side.
type treeCursor[R any] struct {
	next   func() (R, error, bool)
	stop   func()
	path   func(R) string
	passed func(R) // a record the walk went past: recorded, not on the drive
	cur    R
	have   bool
	done   bool
}

func newTreeCursor[R any](records iter.Seq2[R, error], path func(R) string, passed func(R)) *treeCursor[R] {
	next, stop := iter.Pull2(records)
	return &treeCursor[R]{next: next, stop: stop, path: path, passed: passed}
}

// mhlPath is where an ASC MHL file record stands in the tree.
func mhlPath(r mhl.FileRecord) string { return r.Path }

// withNoErrors adapts a record stream that cannot fail.
func withNoErrors[R any](seq iter.Seq[R]) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		for r := range seq {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// seek returns the record for path, if any, after telling passed about
// every record before it; last passes every record left.
func (c *treeCursor[R]) seek(path string, last bool) (R, bool, error) {
	var zero R
	for {
		if !c.have && !c.done {
			r, err, ok := c.next()
			switch {
			case !ok:
				c.done = true
			case err != nil:
				return zero, false, err
			default:
				c.cur, c.have = r, true
			}
		}
		if !c.have {
			return zero, false, nil
		}
		order := -1
		if !last {
			order = treepath.Compare(c.path(c.cur), path)
		}
		if order == 0 {
			c.have = false
			return c.cur, true, nil
		}
		if order > 0 {
			return zero, false, nil
		}
		c.passed(c.cur)
		c.have = false
	}
}
