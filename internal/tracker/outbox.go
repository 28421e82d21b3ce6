package tracker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
)

// outbox is the durable queue of events not yet confirmed in the tracker.
//
// Layout: one file per accepted batch, "<first event id>-<random>.jsonl",
// one JSON event per line. A batch is written to a temporary file, flushed
// to the medium and renamed into place, and the folder is flushed: until
// the rename the batch does not exist, after it the whole batch does. So a
// kill -9 or power cut at any moment leaves either a complete batch or a
// stray temporary file (ignored, then removed), never a half batch, and
// never touches batches accepted before. Record returns only after this,
// which is what "accepted" means.
//
// Only the holder of the folder's lock file sends and removes batches;
// writers (Record in any process) never need it, since each batch has its
// own new name.
type outbox struct {
	dir string
}

const (
	batchExt      = ".jsonl"
	lockName      = ".lock"
	corruptSuffix = ".unreadable"
)

func openOutbox(dir string) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tracker outbox: %w (check that %s can be written)", err, dir)
	}
	return &outbox{dir: dir}, nil
}

// add stores a batch durably.
func (o *outbox) add(events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	name := fileNamePart(events[0].ID) + "-" + fsx.RandomID(4) + batchExt
	if err := fsx.WriteFileAtomic(filepath.Join(o.dir, name), buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("tracker outbox: cannot save events in %s: %w", o.dir, err)
	}
	return nil
}

// fileNamePart makes an event ID usable at the start of a batch's file
// name. IDs editkit makes (event.NewID) pass unchanged, so names still sort
// by time; one from elsewhere (the hub's log) might start with '.', which
// load skips as a temporary file — the batch would never be sent — or hold
// characters a Windows or SMB folder refuses.
func fileNamePart(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// batch is one outbox file as read.
type batch struct {
	name   string
	events []event.Event
}

// load reads every batch, oldest first. Unreadable files (only possible by
// outside damage: a batch is never visible half-written) are skipped and,
// when quarantine is set (the lock holder), renamed aside and reported, so
// one bad file cannot block the rest forever.
func (o *outbox) load(quarantine bool) (batches []batch, warnings []string, err error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("tracker outbox: %w", err)
	}
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, batchExt) {
			continue
		}
		b, err := readBatch(filepath.Join(o.dir, name))
		if err != nil {
			if !quarantine {
				continue
			}
			aside := name + corruptSuffix
			if rerr := os.Rename(filepath.Join(o.dir, name), filepath.Join(o.dir, aside)); rerr == nil {
				warnings = append(warnings, fmt.Sprintf("outbox file %s could not be read (%v); it was renamed to %s for inspection", name, err, aside))
			}
			continue
		}
		b.name = name
		batches = append(batches, b)
	}
	sort.Slice(batches, func(i, j int) bool { return batches[i].name < batches[j].name })
	return batches, warnings, nil
}

func readBatch(path string) (batch, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return batch{}, err
	}
	var b batch
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return batch{}, err
		}
		if err := e.Validate(); err != nil {
			return batch{}, err
		}
		b.events = append(b.events, e)
	}
	return b, sc.Err()
}

// settle removes what was confirmed: a batch whose events are all in the
// tracker is deleted, a batch partly confirmed is replaced (atomically) by
// the rest. Only the lock holder calls it.
func (o *outbox) settle(batches []batch, confirmed map[string]bool) error {
	var errs []error
	for _, b := range batches {
		var rest []event.Event
		for _, e := range b.events {
			if !confirmed[e.ID] {
				rest = append(rest, e)
			}
		}
		path := filepath.Join(o.dir, b.name)
		switch {
		case len(rest) == 0:
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		case len(rest) < len(b.events):
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			for _, e := range rest {
				enc.Encode(e)
			}
			if err := fsx.WriteFileAtomic(path, buf.Bytes(), 0o600); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return fsx.SyncDir(o.dir)
}

// cleanTemps removes temporary files left by writers that died mid-write.
// Only files older than a minute go: a younger one may be a live writer's.
func (o *outbox) cleanTemps(now time.Time) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		name := de.Name()
		if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		if info, err := de.Info(); err == nil && now.Sub(info.ModTime()) > time.Minute {
			os.Remove(filepath.Join(o.dir, name))
		}
	}
}

// lock takes the outbox's send lock, waiting up to wait for another
// process that holds it.
func (o *outbox) lock(ctx context.Context, clock Clock, wait time.Duration) (func() error, error) {
	return lockFile(ctx, clock, filepath.Join(o.dir, lockName), wait)
}

// lockFile takes an exclusive lock on path, waiting up to wait. The lock is
// advisory and dies with its process, so a killed editkit never leaves it
// held. (On network shares, locks are only as good as the share's.)
func lockFile(ctx context.Context, clock Clock, path string, wait time.Duration) (func() error, error) {
	deadline := clock.Now().Add(wait)
	for {
		unlock, err := fsx.Lock(path)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, fsx.ErrLocked) || !clock.Now().Before(deadline) {
			return nil, err
		}
		if err := clock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// count returns how many events wait, without locking.
func (o *outbox) count() int {
	batches, _, err := o.load(false)
	if err != nil {
		return 0
	}
	seen := map[string]bool{}
	for _, b := range batches {
		for _, e := range b.events {
			seen[e.ID] = true
		}
	}
	return len(seen)
}
