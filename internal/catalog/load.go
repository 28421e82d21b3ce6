package catalog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/treepath"
)

const (
	checkpointFormat = "editkit-catalog-checkpoint/1"
	// lateWindow is how late a batch may arrive in the log, relative to
	// the batches around it (clocks of different computers disagree), and
	// still be seen by a reader starting from a checkpoint: a checkpoint
	// records every batch of its last lateWindow, and a reader that finds
	// one it does not list falls back to an earlier checkpoint.
	lateWindow = 24 * time.Hour
	// checkpointEvery is how many events a reader folds beyond the newest
	// checkpoint before it writes a new one.
	checkpointEvery = 1000
)

// checkpoint is the catalog folded through a batch of the log.
type checkpoint struct {
	Format  string   `json:"format"`
	Through string   `json:"through"` // the last batch key folded
	Recent  []string `json:"recent"`  // every batch key within lateWindow before Through
	State   *State   `json:"state"`
}

// Stats says how a catalog was read.
type Stats struct {
	Checkpoint string        `json:"checkpoint,omitempty"` // the one used
	Batches    int           `json:"batches"`              // batches read past it
	Events     int64         `json:"events"`               // events in the catalog's history
	Wrote      string        `json:"wrote,omitempty"`      // a new checkpoint written
	Took       time.Duration `json:"took"`
}

// Load reads the catalog: the newest valid checkpoint, then the batches
// that arrived after it. With write set it leaves a new checkpoint when it
// had to read many events past the old one. now is the command's clock:
// batches that reached the hub up to two days after it are read.
func Load(ctx context.Context, h *contenthub.Hub, now time.Time, write bool) (*State, Stats, error) {
	start := time.Now()
	var st Stats
	cps, err := h.Checkpoints(ctx)
	if err != nil {
		return nil, st, err
	}
	// Newest first; fall back on an older one if a late batch appeared
	// inside its window, and on a full replay as the last resort.
	for i := len(cps) - 1; i >= -1; i-- {
		var cp *checkpoint
		if i >= 0 {
			cp, err = readCheckpoint(ctx, h, cps[i])
			if err != nil {
				continue // damaged or foreign: try an older one
			}
		}
		s, keys, ok, err := replay(ctx, h, cp, now)
		if err != nil {
			return nil, st, err
		}
		if !ok {
			continue
		}
		if cp != nil {
			st.Checkpoint = cps[i]
		}
		st.Batches = len(keys)
		st.Events = s.Events
		if write && len(keys) > 0 && s.Events-eventsOf(cp) >= checkpointEvery {
			if key, err := writeCheckpoint(ctx, h, s, cp, keys); err == nil {
				st.Wrote = key
			}
		}
		st.Took = time.Since(start)
		return s, st, nil
	}
	return nil, st, errors.New("catalog: no way to read the event log")
}

func eventsOf(cp *checkpoint) int64 {
	if cp == nil {
		return 0
	}
	return cp.State.Events
}

// replay folds the batches after cp (all of them without one). ok is false
// when cp missed a batch that arrived late inside its window.
func replay(ctx context.Context, h *contenthub.Hub, cp *checkpoint, now time.Time) (*State, []string, bool, error) {
	s := NewState()
	var since time.Time
	var through string
	if cp != nil {
		s = cp.State
		through = cp.Through
		t, _ := contenthub.EventKeyTime(cp.Through)
		since = t.Add(-lateWindow)
	}
	keys, err := h.EventKeys(ctx, since, now)
	if err != nil {
		return nil, nil, false, err
	}
	if cp != nil {
		known := map[string]bool{}
		for _, k := range cp.Recent {
			known[k] = true
		}
		windowStart := contenthub.FirstEventKeyAt(since)
		for _, k := range keys {
			if k > windowStart && k <= through && !known[k] {
				return nil, nil, false, nil // arrived late: this checkpoint is stale
			}
		}
	}
	var folded []string
	for _, k := range keys {
		if k <= through {
			continue
		}
		evs, err := h.ReadBatch(ctx, k)
		if err != nil {
			return nil, nil, false, err
		}
		for _, e := range evs {
			s.Apply(e)
		}
		folded = append(folded, k)
	}
	return s, folded, true, nil
}

func readCheckpoint(ctx context.Context, h *contenthub.Hub, key string) (*checkpoint, error) {
	rc, err := h.OpenCheckpoint(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if err := json.NewDecoder(io.LimitReader(gz, 2<<30)).Decode(&cp); err != nil {
		return nil, err
	}
	if cp.Format != checkpointFormat || cp.State == nil {
		return nil, fmt.Errorf("catalog checkpoint %s: format %q", key, cp.Format)
	}
	// A checkpoint is as untrusted as the log: re-check what it holds.
	if cp.State.Items == nil || cp.State.Drives == nil || cp.State.Backups == nil {
		return nil, fmt.Errorf("catalog checkpoint %s is incomplete", key)
	}
	if cp.State.Withdrawn == nil {
		cp.State.Withdrawn = map[string]*Item{}
	}
	if err := validState(cp.State); err != nil {
		return nil, fmt.Errorf("catalog checkpoint %s: %w", key, err)
	}
	return &cp, nil
}

// validState checks what readers of the catalog rely on and folding events
// keeps true: every item (current or withdrawn) is under its own clean path
// with a well-formed hash and size, and so is every version it replaced;
// what a drive has is at clean paths. A checkpoint that breaks it would
// make pull fetch a blob that cannot exist or place a file outside a drive.
func validState(s *State) error {
	for what, m := range map[string]map[string]*Item{"item": s.Items, "withdrawn item": s.Withdrawn} {
		for p, it := range m {
			if it == nil || it.Path != p || treepath.Validate(p) != nil || !validHash(it.B3) || it.Size < 0 {
				return fmt.Errorf("bad %s %q", what, p)
			}
			for _, v := range it.Previous {
				if !validHash(v.B3) {
					return fmt.Errorf("bad earlier version of %s %q", what, p)
				}
			}
		}
	}
	for id, d := range s.Drives {
		if d == nil {
			return fmt.Errorf("bad drive %q", id)
		}
		for p := range d.Has {
			if treepath.Validate(p) != nil {
				return fmt.Errorf("drive %q: bad path %q", id, p)
			}
		}
	}
	return nil
}

// writeCheckpoint stores the catalog folded through the last key.
func writeCheckpoint(ctx context.Context, h *contenthub.Hub, s *State, old *checkpoint, folded []string) (string, error) {
	through := folded[len(folded)-1]
	t, _ := contenthub.EventKeyTime(through)
	windowStart := contenthub.FirstEventKeyAt(t.Add(-lateWindow))
	var recent []string
	if old != nil {
		for _, k := range old.Recent {
			if k > windowStart {
				recent = append(recent, k)
			}
		}
	}
	for _, k := range folded {
		if k > windowStart {
			recent = append(recent, k)
		}
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if err := json.NewEncoder(gz).Encode(checkpoint{Format: checkpointFormat, Through: through, Recent: recent, State: s}); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	return h.WriteCheckpoint(ctx, through, buf.Bytes())
}
