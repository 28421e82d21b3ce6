package media

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
	mu sync.Mutex
	f  *os.File
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
	return &pendingLog{f: f}, left, nil
}

// add appends an event; written at once, so kill -9 does not lose it.
func (l *pendingLog) add(ev event.Event) {
	if l == nil {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Write(append(b, '\n'))
}

func (l *pendingLog) close() {
	if l != nil {
		l.f.Close()
	}
}

// EventsRecorded tells the drive that the events of its last pull reached
// the event log (or its outbox): they are no longer pending.
func EventsRecorded(drive string) error {
	pr, err := place.Open(drive, place.Hooks{})
	if err != nil {
		return err
	}
	if err := pr.Remove(manifest.DirName + "/" + pendingFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
