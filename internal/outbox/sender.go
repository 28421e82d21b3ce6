package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/fsx"
)

// Sender is the holder of one destination's send lock.
type Sender struct {
	o      *Outbox
	dest   string
	unlock func() error
}

// Close gives the lock back.
func (s *Sender) Close() error { return s.unlock() }

// Step tells the test hook a delivery reached step.
func (s *Sender) Step(step string) {
	if s.o.hook != nil {
		s.o.hook(s.dest + ":" + step)
	}
}

// Dir is the outbox folder.
func (s *Sender) Dir() string { return s.o.dir }

// Pending returns the batches the destination has not finished, oldest
// first. Damaged files are put aside (warnings say which); leftovers of
// processes that died (temporary files, receipts of removed batches, done
// batches not yet removed) are tidied.
func (s *Sender) Pending() (pending []Pending, warnings []string, err error) {
	s.o.cleanTemps(time.Now())
	ids, err := s.o.list()
	if err != nil {
		return nil, nil, err
	}
	s.removeOrphanReceipts(ids)
	for _, id := range ids {
		// The receipt before the batch: the last destination to finish
		// removes the batch first and the receipts after (tidy), so a
		// batch read after its receipt was seen unfinished truly is
		// unfinished. Read the other way round, the receipt could vanish
		// in between and a delivered batch look new.
		r, rerr := s.o.readReceipt(id, s.dest)
		b, err := s.o.readBatch(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // just removed by the last of its destinations
		}
		if err != nil {
			warnings = append(warnings, s.putAside(id, err))
			continue
		}
		if !slices.Contains(b.To, s.dest) {
			continue
		}
		if rerr != nil {
			warnings = append(warnings, s.putAside(id, rerr))
			continue
		}
		if r.Done {
			if err := s.tidy(b); err != nil {
				warnings = append(warnings, fmt.Sprintf("could not remove the delivered batch %s from %s: %v", id, s.o.dir, err))
			}
			continue
		}
		pending = append(pending, Pending{Batch: b, Receipt: r})
	}
	return pending, warnings, nil
}

// Save records the destination's progress with a batch, atomically; a done
// receipt removes the batch once every destination of it is done.
func (s *Sender) Save(p Pending) error {
	data, err := json.Marshal(p.Receipt)
	if err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(s.o.receiptPath(p.ID, s.dest), data, 0o600); err != nil {
		return fmt.Errorf("event outbox: cannot save the progress of batch %s in %s: %w", p.ID, s.o.dir, err)
	}
	s.Step("receipt")
	if p.Receipt.Done {
		return s.tidy(p.Batch)
	}
	return nil
}

// Quarantine puts a batch aside that the destination refuses for good (it
// would fail for ever and hold back every batch after it), returning the
// warning for the user.
func (s *Sender) Quarantine(id string, why error) string { return s.putAside(id, why) }

// tidy removes a batch every destination of which is done: the batch first,
// so that a crash half-way leaves only receipts without a batch (removed by
// the next holder of their destination's lock).
func (s *Sender) tidy(b Batch) error {
	for _, d := range b.To {
		if d == s.dest {
			continue
		}
		if r, err := s.o.readReceipt(b.ID, d); err != nil || !r.Done {
			return nil // that destination still needs it (or will put it aside)
		}
	}
	if err := os.Remove(s.o.batchPath(b.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, d := range b.To {
		if err := os.Remove(s.o.receiptPath(b.ID, d)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return fsx.SyncDir(s.o.dir)
}

// putAside renames a damaged batch and its receipts for a person to look
// at, so they cannot block the rest.
func (s *Sender) putAside(id string, why error) string {
	name := id + batchExt
	entries, _ := os.ReadDir(s.o.dir)
	for _, de := range entries {
		n := de.Name()
		if n == name || strings.HasPrefix(n, id+".") && strings.HasSuffix(n, receiptExt) {
			os.Rename(filepath.Join(s.o.dir, n), filepath.Join(s.o.dir, n+asideSuffix))
		}
	}
	fsx.SyncDir(s.o.dir)
	return fmt.Sprintf("outbox file %s could not be read (%v); it was renamed to %s for inspection, its events are not sent", filepath.Join(s.o.dir, name), why, name+asideSuffix)
}

// removeOrphanReceipts removes this destination's receipts whose batch is
// gone (a holder died between removing a batch and its receipts). Only this
// destination's: another destination's lock holder may be writing its own.
func (s *Sender) removeOrphanReceipts(ids []string) {
	entries, err := os.ReadDir(s.o.dir)
	if err != nil {
		return
	}
	suffix := "." + s.dest + receiptExt
	for _, de := range entries {
		id, ok := strings.CutSuffix(de.Name(), suffix)
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		if _, found := slices.BinarySearch(ids, id); !found {
			os.Remove(filepath.Join(s.o.dir, de.Name()))
		}
	}
}

// cleanTemps removes temporary files left by writers that died mid-write.
// Only files older than a minute go: a younger one may be a live writer's.
func (o *Outbox) cleanTemps(now time.Time) {
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
