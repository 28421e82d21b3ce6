package outbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
)

// Import takes into this outbox, for the lock's destination, the batches an
// editkit before the one outbox left in its own folder for that destination
// (hub-outbox/: one JSON batch per file, with the log object chosen for it;
// tracker-outbox/: one JSON event per line), then removes them there, and
// the folder once nothing is left in it. A crash half-way imports again
// what was not removed: a batch already here is kept as it is. Unreadable
// files are renamed aside there and reported.
func (s *Sender) Import(legacyDir string) (n int, warnings []string, err error) {
	entries, err := os.ReadDir(legacyDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("the old event outbox %s: %w", legacyDir, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	ext := map[string]string{Hub: ".json", Tracker: ".jsonl"}[s.dest]
	for _, de := range entries {
		name := de.Name()
		stem, ok := strings.CutSuffix(name, ext)
		if !ok || ext == "" || de.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(legacyDir, name)
		p, err := readLegacy(path, stem, s.dest)
		if err == nil {
			err = s.adopt(p)
		}
		if err != nil {
			if rerr := os.Rename(path, path+asideSuffix); rerr == nil {
				warnings = append(warnings, fmt.Sprintf("old outbox file %s could not be taken over (%v); it was renamed to %s for inspection, its events are not sent", path, err, name+asideSuffix))
			}
			continue
		}
		if err := os.Remove(path); err != nil {
			return n, warnings, fmt.Errorf("the old event outbox: %w", err)
		}
		n++
	}
	removeIfOnlyDotFiles(legacyDir)
	return n, warnings, nil
}

// readLegacy reads one file of an old outbox folder.
func readLegacy(path, stem, dest string) (Pending, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Pending{}, err
	}
	p := Pending{Batch: Batch{ID: stem, To: []string{dest}}}
	if dest == Hub {
		var old struct {
			ID     string
			Events []event.Event
			Key    string
		}
		if err := json.Unmarshal(data, &old); err != nil {
			return Pending{}, err
		}
		p.ID, p.Events, p.Receipt.Key = old.ID, old.Events, old.Key
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var e event.Event
			if err := json.Unmarshal(line, &e); err != nil {
				return Pending{}, err
			}
			p.Events = append(p.Events, e)
		}
		if err := sc.Err(); err != nil {
			return Pending{}, err
		}
	}
	if len(p.Events) == 0 {
		return Pending{}, errors.New("no events")
	}
	return p, p.valid()
}

// adopt writes an imported batch here: its receipt first (the hub's log
// object, chosen by the old editkit and perhaps already tried), so the batch
// is never seen here without it.
func (s *Sender) adopt(p Pending) error {
	if _, err := os.Lstat(s.o.batchPath(p.ID)); err == nil {
		return nil
	}
	if p.Receipt.Key != "" {
		if err := s.Save(Pending{Batch: p.Batch, Receipt: p.Receipt}); err != nil {
			return err
		}
	}
	return s.o.Add(p.Batch)
}

// removeIfOnlyDotFiles removes an old outbox folder holding nothing but its
// lock and temporary files.
func removeIfOnlyDotFiles(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		if !strings.HasPrefix(de.Name(), ".") || de.IsDir() {
			return
		}
	}
	for _, de := range entries {
		os.Remove(filepath.Join(dir, de.Name()))
	}
	os.Remove(dir)
	fsx.SyncDir(filepath.Dir(dir))
}
