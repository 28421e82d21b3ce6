package contenthub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

// The compaction lease keeps two compactions (two prunes from two homes,
// a prune and `hub pack`, `hub check --repair`) off the same hub at once:
// one's kept pack may be the other's repacked one. It is a hub-wide
// object, not a local lock, because they run on different computers.
//
// S3 offers a create-if-absent (If-None-Match) but no conditional delete
// or replace, so a lease is never replaced: each taker creates the next
// generation, prune/lease/GGGG….json, with IfNotExists. The holder is the
// one whose generation is the highest there, while it is neither released
// (a GGGG….done object beside it) nor expired. Of two takers of the same
// generation exactly one creates it. The highest generation is never
// deleted (a holder deletes only those below its own), so numbers only
// grow; a taker that saw an old listing and made a generation below the
// highest (one a holder had deleted) finds that on the listing it makes
// after creating, deletes its object and does not compact.
//
// A lease taken on this computer by a process that is gone (killed) ends
// at once, like a deletion announcement (gc.go).
//
// There is no renewal (it would need a replace): the lease is generous
// (LeaseFor, hours; a compaction reads and writes at most the small
// blobs, a night's repack takes minutes) and the holder checks it still
// holds the lease, with leaseMargin to spare for clocks that differ
// between computers, before each step that deletes anything. One that ran
// too long stops there: its new packs stay (indexed, or adopted by the
// next compaction) and nothing it read is lost.
const (
	leasePrefix = "prune/lease/"
	// LeaseFor is how long a compaction lease lasts.
	LeaseFor    = 6 * time.Hour
	leaseMargin = time.Hour
)

// LeaseHolder says who compacts, for the sentence another one prints.
type LeaseHolder struct {
	User string `json:"user,omitempty"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
}

// Lease is the content of a lease object.
type Lease struct {
	LeaseHolder
	Generation uint64    `json:"generation"`
	Started    time.Time `json:"started"`
	Expires    time.Time `json:"expires"`
}

// ErrCompacting is what a compaction finds when another holds the lease
// (errors.Is); the error is a *CompactingError saying who.
var ErrCompacting = errors.New("another compaction is running on this hub")

// CompactingError names the holder of the lease.
type CompactingError struct{ Holder Lease }

func (e *CompactingError) Error() string {
	who := e.Holder.Host
	if e.Holder.User != "" {
		who = e.Holder.User + "@" + who
	}
	return fmt.Sprintf("another prune or hub pack (%s, pid %d, started %s) is compacting this hub; this one did not compact (its lease ends when it finishes, at the latest %s)",
		who, e.Holder.PID, e.Holder.Started.Local().Format("2006-01-02 15:04"), e.Holder.Expires.Local().Format("2006-01-02 15:04"))
}

func (e *CompactingError) Unwrap() error { return ErrCompacting }

// ended reports whether a lease no longer holds: it expired, or its
// holder ran on this computer (host) and its process is gone (killed),
// so the next run here need not wait hours.
func (l Lease) ended(now time.Time, host string) bool {
	if !now.Before(l.Expires) {
		return true
	}
	return host != "" && l.Host == host && l.PID > 0 && !processAlive(l.PID)
}

// lease is a held compaction lease.
type lease struct {
	h   *Hub
	rec Lease
	now func() time.Time
}

func leaseKey(gen uint64) string     { return fmt.Sprintf("%s%020d.json", leasePrefix, gen) }
func leaseDoneKey(gen uint64) string { return fmt.Sprintf("%s%020d.done", leasePrefix, gen) }

// leaseObjects is what the lease folder holds.
type leaseObjects struct {
	top  uint64 // highest generation (0: none)
	done map[uint64]bool
	keys map[uint64][]string
	mod  map[uint64]time.Time
}

func (h *Hub) listLeases(ctx context.Context) (*leaseObjects, error) {
	l := &leaseObjects{done: map[uint64]bool{}, keys: map[uint64][]string{}, mod: map[uint64]time.Time{}}
	for oi, err := range h.backend.List(ctx, leasePrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", leasePrefix, err)
		}
		name := strings.TrimPrefix(oi.Key, leasePrefix)
		num, ext, _ := strings.Cut(name, ".")
		gen, err := strconv.ParseUint(num, 10, 64)
		if err != nil || (ext != "json" && ext != "done") {
			continue
		}
		l.keys[gen] = append(l.keys[gen], oi.Key)
		if ext == "done" {
			l.done[gen] = true
			continue
		}
		l.mod[gen] = oi.Modified
		l.top = max(l.top, gen)
	}
	return l, nil
}

// readLease reads a lease object; one that cannot be read lasts LeaseFor
// from when it was written.
func (h *Hub) readLease(ctx context.Context, gen uint64, modified time.Time) (Lease, error) {
	fallback := Lease{LeaseHolder: LeaseHolder{Host: "?"}, Generation: gen, Started: modified, Expires: modified.Add(LeaseFor)}
	rc, err := h.backend.Get(ctx, leaseKey(gen), 0, -1)
	if err != nil {
		return fallback, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<16))
	if err != nil {
		return fallback, err
	}
	var rec Lease
	if json.Unmarshal(data, &rec) != nil || rec.Expires.IsZero() {
		return fallback, nil
	}
	return rec, nil
}

// takeLease takes the compaction lease, or says who holds it (a
// *CompactingError).
func (h *Hub) takeLease(ctx context.Context, who LeaseHolder, now func() time.Time) (*lease, error) {
	if who.Host == "" {
		who.Host, _ = os.Hostname()
	}
	if who.PID == 0 {
		who.PID = os.Getpid()
	}
	for range 4 {
		ls, err := h.listLeases(ctx)
		if err != nil {
			return nil, err
		}
		if ls.top > 0 && !ls.done[ls.top] {
			rec, err := h.readLease(ctx, ls.top, ls.mod[ls.top])
			if errors.Is(err, backend.ErrNotFound) {
				continue // released and cleaned up meanwhile: look again
			}
			if err != nil {
				return nil, fmt.Errorf("reading the compaction lease %s: %w", leaseKey(ls.top), err)
			}
			if !rec.ended(now(), who.Host) {
				return nil, &CompactingError{Holder: rec}
			}
		}
		t := now()
		rec := Lease{LeaseHolder: who, Generation: ls.top + 1, Started: t, Expires: t.Add(LeaseFor)}
		data, _ := json.Marshal(rec)
		err = h.backend.Put(ctx, leaseKey(rec.Generation), backend.BytesSource(data), backend.PutOptions{IfNotExists: true})
		if errors.Is(err, backend.ErrExists) {
			continue // another took it first: the next look says who
		}
		if err != nil {
			return nil, fmt.Errorf("writing the compaction lease %s: %w", leaseKey(rec.Generation), err)
		}
		l := &lease{h: h, rec: rec, now: now}
		after, err := h.listLeases(ctx)
		if err != nil {
			l.release(ctx)
			return nil, err
		}
		if after.top != rec.Generation {
			// Made from an old listing, below the current lease.
			h.backend.Delete(ctx, leaseKey(rec.Generation))
			continue
		}
		for gen, keys := range after.keys {
			if gen < rec.Generation {
				for _, k := range keys {
					h.backend.Delete(ctx, k) // tidying: a leftover is harmless
				}
			}
		}
		return l, nil
	}
	return nil, fmt.Errorf("could not take the compaction lease of %s: others kept taking it; try again later", h.location)
}

// holds checks, before a step that deletes, that the lease is still ours
// with leaseMargin to spare.
func (l *lease) holds(ctx context.Context) error {
	expired := fmt.Errorf("this compaction ran past its lease (taken %s, until %s) and stopped before deleting anything; nothing is lost, the next prune or `editkit hub pack` finishes the work",
		l.rec.Started.Local().Format("2006-01-02 15:04"), l.rec.Expires.Local().Format("2006-01-02 15:04"))
	if !l.now().Before(l.rec.Expires.Add(-leaseMargin)) {
		return expired
	}
	ls, err := l.h.listLeases(ctx)
	if err != nil {
		return err
	}
	if ls.top != l.rec.Generation || ls.done[l.rec.Generation] {
		return expired
	}
	return nil
}

// release ends the lease, even when ctx is cancelled (an interrupted
// compaction must not block the next for hours).
func (l *lease) release(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	l.h.backend.Put(ctx, leaseDoneKey(l.rec.Generation), backend.BytesSource(nil), backend.PutOptions{IfNotExists: true})
}
