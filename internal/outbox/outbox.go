// Package outbox owns this computer's one durable queue of events on their
// way out: every event a command makes waits here until each destination
// it is meant for (the hub's event log, the tracker) has confirmed it.
//
// Layout of the folder (one per state folder):
//
//	<id>.batch                  one command's events and their destinations,
//	                            written once (temporary file, flush, rename,
//	                            folder flush) and never rewritten
//	<id>.<destination>.receipt  how far that destination got with the batch:
//	                            the hub's log object chosen before the first
//	                            attempt, the event IDs the tracker confirmed,
//	                            done; replaced atomically, never edited
//	.lock-<destination>         the send lock of that destination
//	*.unreadable                damaged files put aside for a person
//
// A batch says when it is written where it goes: the hub only when the
// command had a hub (a batch recorded without one never waits for a hub
// configured later), the tracker always. It is removed once every one of its
// destinations has a done receipt.
//
// Writers (Add) need no lock: each batch has a new name. Sending needs the
// destination's lock (Lock): advisory, it dies with its process, so a killed
// editkit never leaves it held. One lock per destination, so a Sheet that
// answers slowly never holds back the hub's log (a push waits for the log:
// prune's safety depends on it). A lock holder reads, sends, writes
// receipts and tidies; a damaged batch or receipt is put aside and reported
// and never blocks the batches after it.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
)

// The destinations editkit delivers events to.
const (
	Hub     = "hub"     // the hub's event log (the catalog)
	Tracker = "tracker" // the Google Sheet or the CSV tracker
	// Notify is the team's notification targets (chat webhooks, e-mail).
	// Its batches carry a Message instead of events; its receipt's
	// Confirmed lists the targets that took the message, so a retry sends
	// only to the others.
	Notify = "notify"
)

const (
	batchExt    = ".batch"
	receiptExt  = ".receipt"
	lockPrefix  = ".lock-"
	asideSuffix = ".unreadable"
)

// Batch is one command's events, in order, and where they go.
type Batch struct {
	ID     string        `json:"id"` // unique and time-ordered (event.NewID)
	To     []string      `json:"to"` // destinations, e.g. [hub tracker]
	Events []event.Event `json:"events"`
	// Message is a notification, composed when it was queued so every
	// attempt sends the same words (batches bound for Notify only).
	Message json.RawMessage `json:"message,omitempty"`
}

// NewBatch groups events under a new batch ID, bound for to.
func NewBatch(now time.Time, to []string, evs []event.Event) Batch {
	return Batch{ID: event.NewID(now), To: to, Events: evs}
}

// Receipt is one destination's progress with one batch.
type Receipt struct {
	// Key is what the destination chose before its first attempt, so that
	// a retry writes the same thing (the hub: the log object).
	Key string `json:"key,omitempty"`
	// Confirmed are the IDs of the batch's events the destination was seen
	// to hold (the tracker: read back from the Log), so a batch partly
	// confirmed never sends those again.
	Confirmed []string `json:"confirmed,omitempty"`
	// Done: the destination has the whole batch.
	Done bool `json:"done,omitempty"`
}

// Outbox is the queue in one folder.
type Outbox struct {
	dir  string
	hook func(step string)
}

// Open opens (creating) the outbox folder dir. hook, if set, is called at
// each step of a delivery ("hub:sending", "hub:sent", "hub:receipt", the
// same for the tracker): the end-to-end tests kill the process there.
func Open(dir string, hook func(step string)) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("event outbox: %w (check that %s can be written)", err, dir)
	}
	return &Outbox{dir: dir, hook: hook}, nil
}

// Dir is the outbox folder, for messages telling the user where events wait.
func (o *Outbox) Dir() string { return o.dir }

// Add stores a batch durably; once it returns, the events reach every
// destination of the batch exactly once, now or with a later command.
func (o *Outbox) Add(b Batch) error {
	if len(b.Events) == 0 && len(b.Message) == 0 {
		return nil
	}
	if err := b.valid(); err != nil {
		return err
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(filepath.Join(o.dir, b.ID+batchExt), data, 0o600); err != nil {
		return fmt.Errorf("event outbox: cannot save events in %s: %w", o.dir, err)
	}
	return nil
}

func (b Batch) valid() error {
	if err := ValidID(b.ID); err != nil {
		return err
	}
	if len(b.To) == 0 {
		return fmt.Errorf("event batch %s has no destination", b.ID)
	}
	for _, d := range b.To {
		if !validDest(d) {
			return fmt.Errorf("event batch %s: destination %q is not valid", b.ID, d)
		}
	}
	for _, e := range b.Events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("event batch %s: %w", b.ID, err)
		}
	}
	return nil
}

// ValidID checks a batch ID: it names files here and, in the hub, objects.
func ValidID(id string) error {
	if id == "" || len(id) > 100 || id[0] == '.' || strings.ContainsAny(id, "/\\\x00 ") || strings.Contains(id, "..") {
		return fmt.Errorf("event batch id %q is not valid", id)
	}
	return nil
}

func validDest(d string) bool {
	if d == "" || len(d) > 20 {
		return false
	}
	for _, c := range d {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Waiting counts the events not yet confirmed by dest, without the lock
// (for messages; a send may be changing it).
func (o *Outbox) Waiting(dest string) int {
	batches, _ := o.list()
	seen := map[string]bool{}
	for _, id := range batches {
		b, err := o.readBatch(id)
		if err != nil || !slices.Contains(b.To, dest) {
			continue
		}
		r, err := o.readReceipt(id, dest)
		if err != nil || r.Done {
			continue
		}
		for _, e := range (Pending{Batch: b, Receipt: r}).Unconfirmed() {
			seen[e.ID] = true
		}
	}
	return len(seen)
}

// list returns the IDs of the batches, oldest first.
func (o *Outbox) list() ([]string, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("event outbox: %w", err)
	}
	var ids []string
	for _, de := range entries {
		name := de.Name()
		if id, ok := strings.CutSuffix(name, batchExt); ok && !de.IsDir() && !strings.HasPrefix(name, ".") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (o *Outbox) batchPath(id string) string { return filepath.Join(o.dir, id+batchExt) }

func (o *Outbox) receiptPath(id, dest string) string {
	return filepath.Join(o.dir, id+"."+dest+receiptExt)
}

func (o *Outbox) readBatch(id string) (Batch, error) {
	data, err := os.ReadFile(o.batchPath(id))
	if err != nil {
		return Batch{}, err
	}
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return Batch{}, err
	}
	if b.ID != id {
		return Batch{}, fmt.Errorf("the file holds batch %q", b.ID)
	}
	if len(b.Events) == 0 && len(b.Message) == 0 {
		return Batch{}, errors.New("no events")
	}
	return b, b.valid()
}

// readReceipt returns dest's receipt for a batch; none yet is the zero one.
func (o *Outbox) readReceipt(id, dest string) (Receipt, error) {
	data, err := os.ReadFile(o.receiptPath(id, dest))
	if errors.Is(err, os.ErrNotExist) {
		return Receipt{}, nil
	}
	if err != nil {
		return Receipt{}, err
	}
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return Receipt{}, fmt.Errorf("receipt %s: %w", filepath.Base(o.receiptPath(id, dest)), err)
	}
	return r, nil
}

// Pending is a batch as one destination still has to take it.
type Pending struct {
	Batch
	Receipt Receipt // the destination's progress so far
}

// Unconfirmed returns the events the destination has not confirmed.
func (p Pending) Unconfirmed() []event.Event {
	if p.Receipt.Done {
		return nil
	}
	if len(p.Receipt.Confirmed) == 0 {
		return p.Events
	}
	have := make(map[string]bool, len(p.Receipt.Confirmed))
	for _, id := range p.Receipt.Confirmed {
		have[id] = true
	}
	var out []event.Event
	for _, e := range p.Events {
		if !have[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// Clock is the time source of lock waits (the tracker's sped-up clock in
// its tests).
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// LockFile takes an exclusive lock on path, waiting up to wait. The lock is
// advisory and dies with its process, so a killed editkit never leaves it
// held. (On network shares, locks are only as good as the share's.)
func LockFile(ctx context.Context, clock Clock, path string, wait time.Duration) (func() error, error) {
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

// Lock takes dest's send lock, waiting up to wait for another process that
// holds it (an error wrapping fsx.ErrLocked if it still does).
func (o *Outbox) Lock(ctx context.Context, dest string, clock Clock, wait time.Duration) (*Sender, error) {
	if !validDest(dest) {
		return nil, fmt.Errorf("event outbox: destination %q is not valid", dest)
	}
	unlock, err := LockFile(ctx, clock, filepath.Join(o.dir, lockPrefix+dest), wait)
	if err != nil {
		return nil, err
	}
	return &Sender{o: o, dest: dest, unlock: unlock}, nil
}
