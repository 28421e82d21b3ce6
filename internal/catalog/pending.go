package catalog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/place"
)

// pendingFile holds, on the drive, the events of files a pull placed and
// recorded whose events have not been handed to the event log yet: a pull
// killed before the end leaves them there, and the next pull sends them
// (events carry IDs, so one sent twice is still counted once).
const pendingFile = "pull-events.jsonl"

// pendingLog appends events to the drive's pending file as they happen.
type pendingLog struct {
	mu  sync.Mutex
	f   *os.File
	err error // the first append that failed
}

// openPending reads the events a killed pull left and opens the file for
// appending.
func openPending(pr *place.Root) (*pendingLog, []event.Event, error) {
	dir, err := pr.OpenDir(manifest.DirName, true)
	if err != nil {
		return nil, nil, err
	}
	defer dir.Close()
	f, err := dir.OpenFile(pendingFile, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("pending events on the drive: %w", err)
	}
	var left []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev event.Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.ID != "" {
			left = append(left, ev) // a line torn by the kill is skipped
		}
	}
	// A line torn by the kill is ended, so the next event starts a line of
	// its own instead of being glued to it (and skipped with it).
	if err := terminateLastLine(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("pending events on the drive: %w", err)
	}
	return &pendingLog{f: f}, left, nil
}

// terminateLastLine ends f with a newline unless it is empty or does.
func terminateLastLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = f.Write([]byte{'\n'})
	return err
}

// add appends an event; written at once, so kill -9 does not lose it.
func (l *pendingLog) add(ev event.Event) {
	if l == nil {
		return
	}
	b, err := json.Marshal(ev)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		_, err = l.f.Write(append(b, '\n'))
	}
	if err != nil && l.err == nil {
		l.err = err
	}
}

// close closes the file and reports the first append that failed: the
// events of that pull are then not safe on the drive until recorded.
func (l *pendingLog) close() error {
	if l == nil {
		return nil
	}
	err := l.err
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("could not keep this pull's events on the drive (%s/%s: %w): had the pull been stopped, the catalog's log would not hear of the files it placed", manifest.DirName, pendingFile, err)
	}
	return nil
}

// EventsRecorded tells the drive that the events of the pull are safe in
// this computer's outbox (internal/outbox), which delivers them to the
// event log and the tracker: they are no longer pending on the drive.
func (res *PullResult) EventsRecorded() error {
	if err := res.place.Remove(manifest.DirName + "/" + pendingFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
