package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
)

// purgeFile is the drive's purge log, .editkit/purged.ekj: checked lines
// like the journal, append-only, never compacted — the drive's own record
// of what was removed from it on purpose (editkit purge), so that verify
// says so instead of calling it missing, the ASC MHL history's later
// generations ignore it, and a purge killed midway finishes on the next run
// with the same event IDs.
const purgeFile = "purged.ekj"

// Purge states, in the order a purge goes through them.
const (
	PurgeRemoving = "removing" // about to be removed (written first: a rerun finishes it)
	PurgeDone     = "purged"   // gone, and the manifest records its removal
	PurgeReported = "reported" // its purged event is kept for the hub's log and the tracker
)

// Purge is one file removed from the drive on purpose.
type Purge struct {
	Path   string    `json:"path"`
	State  string    `json:"state"`
	Size   int64     `json:"size,omitempty"`
	BLAKE3 string    `json:"b3,omitempty"`
	Why    string    `json:"why,omitempty"` // expired, category, all, named; "forced: ..." when it was removed despite a refusal
	Event  string    `json:"event"`         // the purged event's ID: the same on a rerun, so the tracker writes its row once
	User   string    `json:"user,omitempty"`
	Host   string    `json:"host,omitempty"`
	Time   time.Time `json:"time"`
}

// PurgeLog appends to the drive's purge log. It needs a drive opened for
// writing (whose lock it shares).
type PurgeLog struct {
	d *Drive
	w *journalWriter
}

// OpenPurgeLog opens the drive's purge log for appending, first cutting a
// torn last line.
func (d *Drive) OpenPurgeLog() (*PurgeLog, error) {
	if !d.writable {
		return nil, errors.New("drive opened read-only")
	}
	dir, err := d.stateDir(false)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	w, err := openJournal(dir, purgeFile)
	if err != nil {
		return nil, fmt.Errorf("purge log %s: %w", d.path(purgeFile), err)
	}
	return &PurgeLog{d: d, w: w}, nil
}

// Log appends p and syncs it. For PurgeDone it first records the removal
// in the manifest's journal (a deliberate removal: the manifest drops the
// file, the purge log says why) and syncs that too.
func (l *PurgeLog) Log(p Purge) error {
	if err := treepath.Validate(p.Path); err != nil {
		return err
	}
	if p.State == PurgeDone {
		if err := l.d.Append(Record{Path: p.Path, Deleted: true}); err != nil {
			return err
		}
		if err := l.d.Sync(); err != nil {
			return err
		}
	}
	body, err := appendLine(nil, p)
	if err == nil {
		_, err = l.w.w.Write(body)
	}
	if err == nil {
		err = l.w.sync()
	}
	if err != nil {
		return fmt.Errorf("purge log %s: %w", l.d.path(purgeFile), err)
	}
	return nil
}

// Close syncs and closes the log.
func (l *PurgeLog) Close() error { return l.w.close() }

// Purges returns the newest entry of the drive's purge log for each path,
// in log order. A drive never purged has none.
func Purges(root string) ([]Purge, error) {
	path := statePath(root, purgeFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var order []string
	last := map[string]Purge{}
	lr := newLineReader(f, path)
	for {
		body, err := lr.next()
		if err == io.EOF || errors.Is(err, errTorn) && !lr.restHasIntactLine() {
			break // a crash's torn tail: everything before it stands
		}
		if err != nil {
			what, cause := describeDamage(err, lr.line)
			return nil, damagedFile(path, what, cause)
		}
		var p Purge
		if err := json.Unmarshal(body, &p); err != nil || treepath.Validate(p.Path) != nil {
			return nil, damagedFile(path, fmt.Sprintf("line %d", lr.line), fmt.Errorf("not a purge entry: %v", err))
		}
		if _, seen := last[p.Path]; !seen {
			order = append(order, p.Path)
		}
		last[p.Path] = p
	}
	out := make([]Purge, 0, len(order))
	for _, p := range order {
		out = append(out, last[p])
	}
	return out, nil
}

// PurgedPaths returns the files purged from the drive that its manifest
// does not hold again (media pulled back later is on the drive again).
func (d *Drive) PurgedPaths() ([]Purge, error) {
	ps, err := Purges(d.Root)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	back := map[string]bool{}
	for r, err := range d.Records() {
		if err != nil {
			return nil, err
		}
		back[r.Path] = true
	}
	var out []Purge
	for _, p := range ps {
		if p.State != PurgeRemoving && !back[p.Path] {
			out = append(out, p)
		}
	}
	return out, nil
}

// purgeIgnore returns the ignore patterns by which the drive's ASC MHL
// generations record its purged files (see mhl.PurgedPattern): one for each
// file purged and not placed again, and a re-inclusion for each placed
// again (or whose pattern would hide a file the drive records).
func (d *Drive) purgeIgnore() ([]string, error) {
	ps, err := Purges(d.Root)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	var pats []string
	for _, p := range ps {
		if p.State != PurgeRemoving {
			pats = append(pats, mhl.PurgedPattern(p.Path))
		}
	}
	keep := map[string]bool{}
	for _, p := range mhl.Unhiding(pats, d.RecordPaths()) {
		keep[p] = true
	}
	out := make([]string, 0, len(pats))
	for _, p := range pats {
		if keep[p] {
			out = append(out, p)
		} else {
			out = append(out, mhl.Unignore(p))
		}
	}
	return out, nil
}
