package contenthub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
)

// How prune and the writers of snapshots and catalog events keep out of
// each other's way without a lock (see backup.Prune and backup.Run):
//
//   - prune marks a blob nothing references in prune/pending.json and
//     deletes it only at a later prune, a grace period on;
//   - before that deletion it announces it (prune/deleting/ID.json), then
//     reads again every snapshot and catalog event that appeared since it
//     started, and deletes only what none of them references, before the
//     announcement's deadline;
//   - a backup or push, before committing, re-checks every blob it reuses
//     that is marked, announced or repaired away and uploads again what is
//     gone; after committing it waits out every announcement naming a blob
//     it uses and checks again.
//
// Either prune's second reading sees the new snapshot (and keeps the blob),
// or the writer sees the announcement (and restores the blob after it).
//
// Packed blobs follow the same protocol: prune removes them through
// Compact (compact.go), which writes the blobs it keeps into new packs and
// a new index before the old pack goes, so only announced blobs ever
// leave the hub. Writers re-check against the storage (ReloadIndex, then
// BlobStored), not against the index they loaded when they started.
// Writers take no lock; compactions, which each rewrite packs others may
// keep, take the compaction lease (lease.go) so that only one runs.

// PendingKey holds the blobs the last prune found unreferenced.
const PendingKey = "prune/pending.json"

const (
	deletingPrefix = "prune/deleting/"
	repairPrefix   = "repair/"
)

// PendingList records when each unreferenced blob was first found so.
type PendingList struct {
	Blobs map[string]time.Time `json:"blobs"`
}

// ReadPending reads the pending list. A damaged list reads as empty: the
// waiting period starts again, the safe side.
func (h *Hub) ReadPending(ctx context.Context) (PendingList, error) {
	p := PendingList{Blobs: map[string]time.Time{}}
	data, err := h.readSmall(ctx, PendingKey)
	if errors.Is(err, backend.ErrNotFound) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", PendingKey, err)
	}
	var got PendingList
	if json.Unmarshal(data, &got) != nil {
		return p, nil
	}
	for b, t := range got.Blobs {
		if !t.IsZero() && validB3(b) {
			p.Blobs[b] = t
		}
	}
	return p, nil
}

// WritePending replaces the pending list (one atomic Put). It is the hub's
// one mutable object: only prune writes it, and losing it only delays
// deletions.
func (h *Hub) WritePending(ctx context.Context, p PendingList) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := h.backend.Put(ctx, PendingKey, backend.BytesSource(data), backend.PutOptions{}); err != nil {
		return fmt.Errorf("writing %s: %w", PendingKey, err)
	}
	return nil
}

// Deletion is a prune's announcement that it is about to delete blobs.
// The prune deletes nothing after Deadline (its clock); writers wait for
// the announcement to go away, or for Deadline plus DeletionSkew (theirs).
type Deletion struct {
	ID       string    `json:"id"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	User     string    `json:"user"`
	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"`
	Blobs    []string  `json:"blobs"`
}

// Ended reports whether the prune that wrote d can no longer delete: past
// its deadline by now (with DeletionSkew), or, on host (this computer),
// its process is gone (killed).
func (d *Deletion) Ended(now time.Time, host string) bool {
	if d.Deadline.IsZero() {
		return now.After(d.Started.Add(time.Hour))
	}
	if now.After(d.Deadline.Add(DeletionSkew)) {
		return true
	}
	return host != "" && d.Host == host && d.PID > 0 && !processAlive(d.PID)
}

// DeletionSkew is how far apart two computers' clocks may be for the
// deadline of a deletion announcement.
const DeletionSkew = 2 * time.Minute

func deletionKey(id string) string { return deletingPrefix + id + ".json" }

// AnnounceDeletion writes d before its blobs are deleted.
func (h *Hub) AnnounceDeletion(ctx context.Context, d *Deletion) error {
	if err := validBatchID(d.ID); err != nil {
		return err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := h.backend.Put(ctx, deletionKey(d.ID), backend.BytesSource(data), backend.PutOptions{IfNotExists: true}); err != nil {
		return fmt.Errorf("announcing the deletion of %d blobs: %w", len(d.Blobs), err)
	}
	return nil
}

// EndDeletion removes an announcement once its deletions are done.
func (h *Hub) EndDeletion(ctx context.Context, id string) error {
	return h.backend.Delete(ctx, deletionKey(id))
}

// Deletions lists the deletion announcements in the hub. One that cannot be
// read is returned with no blobs and a zero deadline: a writer then checks
// every blob it reuses.
func (h *Hub) Deletions(ctx context.Context) ([]*Deletion, error) {
	var out []*Deletion
	for oi, err := range h.backend.List(ctx, deletingPrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", deletingPrefix, err)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(oi.Key, deletingPrefix), ".json")
		d := &Deletion{ID: id}
		data, err := h.readSmall(ctx, oi.Key)
		if errors.Is(err, backend.ErrNotFound) {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", oi.Key, err)
		}
		if json.Unmarshal(data, d) != nil || d.ID != id {
			d = &Deletion{ID: id}
		}
		out = append(out, d)
	}
	return out, nil
}

// DeletionActive reports whether the announcement id is still in the hub.
func (h *Hub) DeletionActive(ctx context.Context, id string) (bool, error) {
	_, err := h.backend.Stat(ctx, deletionKey(id))
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Repair records the blobs `hub check --repair` removed as damaged, so that
// the next backup of a file that still exists uploads it again instead of
// taking it as present.
type Repair struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Host  string    `json:"host"`
	User  string    `json:"user"`
	Blobs []string  `json:"blobs"`
}

// RecordRepair writes a repair record (before the blobs are removed).
func (h *Hub) RecordRepair(ctx context.Context, r *Repair) error {
	if err := validBatchID(r.ID); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return h.backend.Put(ctx, repairPrefix+r.ID+".json", backend.BytesSource(data), backend.PutOptions{IfNotExists: true})
}

// Risk is what a writer must re-check before and after committing: the
// blobs prune marked or announced, and those a repair removed.
type Risk struct {
	Blobs     map[string]bool
	Deletions []*Deletion
	// All is set when an announcement could not be read: every reused blob
	// is at risk.
	All bool
}

// AtRisk reads the pending list, the deletion announcements and the repair
// records.
func (h *Hub) AtRisk(ctx context.Context) (*Risk, error) {
	r := &Risk{Blobs: map[string]bool{}}
	p, err := h.ReadPending(ctx)
	if err != nil {
		return nil, err
	}
	for b := range p.Blobs {
		r.Blobs[b] = true
	}
	ds, err := h.Deletions(ctx)
	if err != nil {
		return nil, err
	}
	r.Deletions = ds
	for _, d := range ds {
		if d.Deadline.IsZero() {
			r.All = true
		}
		for _, b := range d.Blobs {
			r.Blobs[b] = true
		}
	}
	for oi, err := range h.backend.List(ctx, repairPrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", repairPrefix, err)
		}
		data, err := h.readSmall(ctx, oi.Key)
		if err != nil {
			continue
		}
		var rp Repair
		if json.Unmarshal(data, &rp) == nil {
			for _, b := range rp.Blobs {
				r.Blobs[b] = true
			}
		}
	}
	return r, nil
}

// Union returns r with what o has at risk added (either may be nil).
func (r *Risk) Union(o *Risk) *Risk {
	if r == nil {
		return o
	}
	if o != nil {
		for b := range o.Blobs {
			r.Blobs[b] = true
		}
		r.All = r.All || o.All
	}
	return r
}

// Has reports whether b3 is at risk.
func (r *Risk) Has(b3 string) bool { return r.All || r.Blobs[b3] }

// WaitDeletions waits until every announcement naming one of blobs has
// ended (or is past its deadline by now()), calling sleep between looks.
// note is told once per announcement waited for.
func (h *Hub) WaitDeletions(ctx context.Context, r *Risk, blobs map[string]bool, host string, now func() time.Time, sleep func(context.Context, time.Duration) error, note func(*Deletion)) error {
	for _, d := range r.Deletions {
		names := d.Deadline.IsZero()
		for _, b := range d.Blobs {
			if blobs[b] {
				names = true
				break
			}
		}
		if !names {
			continue
		}
		told := false
		for wait := 200 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
			active, err := h.DeletionActive(ctx, d.ID)
			if err != nil {
				return err
			}
			if !active || d.Ended(now(), host) {
				break
			}
			if !told && note != nil {
				note(d)
				told = true
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sleep waits d, or until ctx ends: the real wait behind WaitDeletions.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StaleDeletions lists the announcements of prunes that ended without
// removing them (killed); prune removes them.
func StaleDeletions(ds []*Deletion, now time.Time, host string) []string {
	var ids []string
	for _, d := range ds {
		if d.Ended(now, host) {
			ids = append(ids, d.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// NewRunID returns a unique ID for a prune or repair run.
func NewRunID(now time.Time) string { return event.NewID(now) }

func (h *Hub) readSmall(ctx context.Context, key string) ([]byte, error) {
	rc, err := h.backend.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 1<<30))
}

func validB3(b3 string) bool {
	return len(b3) == 64 && strings.Trim(b3, "0123456789abcdef") == ""
}
