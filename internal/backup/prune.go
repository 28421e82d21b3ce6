package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/hub"
	"github.com/zeebo/blake3"
)

// Policy says which snapshots to keep, per set: the newest snapshot of each
// of the last N days, ISO weeks and months (in local time), and the last N.
// A snapshot kept by any rule is kept.
type Policy struct {
	Last, Daily, Weekly, Monthly int
}

func (p Policy) empty() bool { return p.Last+p.Daily+p.Weekly+p.Monthly == 0 }

// Keep splits snapshots (of one set) into kept and removed.
func (p Policy) Keep(snaps []*hub.Snapshot) (keep, remove []*hub.Snapshot) {
	sorted := append([]*hub.Snapshot(nil), snaps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID > sorted[j].ID }) // newest first
	kept := map[string]bool{}
	rule := func(n int, bucket func(time.Time) string) {
		seen := map[string]bool{}
		for _, s := range sorted {
			if len(seen) >= n {
				return
			}
			b := bucket(s.Time.Local())
			if !seen[b] {
				seen[b] = true
				kept[s.ID] = true
			}
		}
	}
	for i, s := range sorted {
		if i < p.Last {
			kept[s.ID] = true
		}
	}
	rule(p.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	rule(p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) })
	rule(p.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	for _, s := range sorted {
		if kept[s.ID] {
			keep = append(keep, s)
		} else {
			remove = append(remove, s)
		}
	}
	return keep, remove
}

// PruneOptions configure a prune.
type PruneOptions struct {
	Set    string // "" for every set
	Policy Policy
	// Grace protects blobs from clients still uploading: a blob is deleted
	// only if it was unreferenced in a prune at least Grace ago, still is,
	// and was uploaded more than Grace ago. 0 deletes unreferenced blobs at
	// once (only safe when nobody else uses the hub).
	Grace time.Duration
	// ExtraRefs lists blobs referenced outside snapshots (the media
	// catalog), which must never be deleted.
	ExtraRefs func(ctx context.Context, add func(b3 string)) error
	DryRun    bool
	TempDir   string
	Host      string
	User      string
	Now       func() time.Time
}

// PruneResult is what a prune did (or would do).
type PruneResult struct {
	Kept           []string `json:"kept"`
	Removed        []string `json:"removed"`
	BlobsDeleted   int64    `json:"blobs_deleted"`
	BytesFreed     int64    `json:"bytes_freed"`
	BlobsPending   int64    `json:"blobs_pending"` // unreferenced, deleted by a later prune after the grace period
	UploadsAborted int      `json:"uploads_aborted"`
	DryRun         bool     `json:"dry_run"`
	Events         []event.Event
}

const pendingKey = "prune/pending.json"

// pendingList records when each unreferenced blob was first found so.
type pendingList struct {
	Blobs map[string]time.Time `json:"blobs"`
}

// Prune removes snapshots the policy does not keep, then the blobs nothing
// references any more (see PruneOptions.Grace for why that is safe while
// others back up), and multipart uploads abandoned for longer than Grace.
func Prune(ctx context.Context, h *hub.Hub, o PruneOptions) (*PruneResult, error) {
	if o.Policy.empty() {
		return nil, errors.New("give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly: an empty policy would remove every snapshot")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	res := &PruneResult{DryRun: o.DryRun}
	all, err := h.Snapshots(ctx, "")
	if err != nil {
		return nil, err
	}
	bySet := map[string][]*hub.Snapshot{}
	for _, s := range all {
		bySet[s.Set] = append(bySet[s.Set], s)
	}
	var kept []*hub.Snapshot
	for set, snaps := range bySet {
		if o.Set != "" && set != o.Set {
			kept = append(kept, snaps...)
			continue
		}
		keep, remove := o.Policy.Keep(snaps)
		kept = append(kept, keep...)
		for _, s := range keep {
			res.Kept = append(res.Kept, s.ID)
		}
		for _, s := range remove {
			res.Removed = append(res.Removed, s.ID)
			if !o.DryRun {
				if err := h.DeleteSnapshot(ctx, s); err != nil {
					return res, fmt.Errorf("removing snapshot %s: %w", s.ID, err)
				}
			}
		}
	}
	sort.Strings(res.Kept)
	sort.Strings(res.Removed)

	// Mark: every blob the kept snapshots and the catalog use.
	refs := map[[32]byte]bool{}
	add := func(b3 string) {
		var k [32]byte
		if _, err := hex.Decode(k[:], []byte(b3)); err == nil {
			refs[k] = true
		}
	}
	for _, s := range kept {
		for e, err := range h.Entries(ctx, s, tempDir(o.TempDir)) {
			if err != nil {
				return res, err
			}
			if !e.Dir {
				add(e.B3)
			}
		}
	}
	if o.ExtraRefs != nil {
		if err := o.ExtraRefs(ctx, add); err != nil {
			return res, err
		}
	}
	// Sweep, in two steps separated by the grace period: a blob is deleted
	// only once it has been unreferenced for Grace (a backup that started
	// before its snapshot was removed has had that long to finish and
	// reference it again), and if it was uploaded more than Grace ago.
	prev, err := readPending(ctx, h)
	if err != nil {
		return res, err
	}
	now := o.Now()
	next := pendingList{Blobs: map[string]time.Time{}}
	for oi, err := range h.Backend().List(ctx, "blobs/") {
		if err != nil {
			return res, err
		}
		b3 := oi.Key[strings.LastIndexByte(oi.Key, '/')+1:]
		var k [32]byte
		if len(b3) != 64 {
			continue
		}
		if _, err := hex.Decode(k[:], []byte(b3)); err != nil || refs[k] {
			continue
		}
		if now.Sub(oi.Modified) < o.Grace {
			continue // uploaded recently: a backup in progress may need it
		}
		first, seen := prev.Blobs[b3]
		if !seen {
			first = now
		}
		if o.Grace > 0 && now.Sub(first) < o.Grace {
			next.Blobs[b3] = first
			continue
		}
		if !o.DryRun {
			if err := h.Backend().Delete(ctx, oi.Key); err != nil {
				return res, err
			}
		}
		res.BlobsDeleted++
		res.BytesFreed += oi.Size
	}
	res.BlobsPending = int64(len(next.Blobs))
	if !o.DryRun {
		if err := writePending(ctx, h, next); err != nil {
			return res, err
		}
		n, err := contenthub.AbortUploads(ctx, h.Backend(), o.Grace)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return res, err
		}
		res.UploadsAborted = n
	}
	ev := event.New(o.Now(), event.Pruned)
	ev.Host, ev.User, ev.Set = o.Host, o.User, o.Set
	ev.Size = res.BytesFreed
	ev.Note = fmt.Sprintf("%d snapshots removed, %d kept, %d blobs deleted, %d pending", len(res.Removed), len(res.Kept), res.BlobsDeleted, res.BlobsPending)
	if !o.DryRun {
		res.Events = []event.Event{ev}
	}
	return res, nil
}

func tempDir(d string) string {
	if d == "" {
		return os.TempDir()
	}
	return d
}

func readPending(ctx context.Context, h *hub.Hub) (pendingList, error) {
	var p pendingList
	rc, err := h.Backend().Get(ctx, pendingKey, 0, -1)
	if errors.Is(err, contenthub.ErrNotFound) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<30))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return pendingList{}, nil // damaged: start the waiting period again, the safe side
	}
	for b, t := range p.Blobs {
		if t.IsZero() {
			delete(p.Blobs, b)
		}
	}
	return p, nil
}

// writePending replaces the pending list. It is the hub's one mutable
// object: only prune writes it, and losing it only delays deletions.
func writePending(ctx context.Context, h *hub.Hub, p pendingList) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := h.Backend().Delete(ctx, pendingKey); err != nil {
		return err
	}
	return h.Backend().Put(ctx, pendingKey, contenthub.BytesSource(data), contenthub.PutOptions{})
}

// CheckOptions configure a hub check.
type CheckOptions struct {
	ReadData  bool // download and re-hash every referenced blob
	ExtraRefs func(ctx context.Context, add func(b3 string)) error
	TempDir   string
	Progress  Progress
}

// CheckResult is what a hub check found.
type CheckResult struct {
	Snapshots int         `json:"snapshots"`
	Blobs     int64       `json:"blobs_referenced"`
	Checked   int64       `json:"blobs_read"` // with ReadData
	Bytes     int64       `json:"bytes_read"`
	Problems  []FileError `json:"problems,omitempty"`
}

// OK reports whether the hub holds everything its snapshots and catalog need.
func (r *CheckResult) OK() bool { return len(r.Problems) == 0 }

// Check verifies that every blob a snapshot (or the catalog) references
// exists in the hub, with the right size; with ReadData each is downloaded
// and re-hashed.
func Check(ctx context.Context, h *hub.Hub, o CheckOptions) (*CheckResult, error) {
	res := &CheckResult{}
	have := map[[32]byte]int64{}
	for oi, err := range h.Backend().List(ctx, "blobs/") {
		if err != nil {
			return nil, err
		}
		var k [32]byte
		b3 := oi.Key[strings.LastIndexByte(oi.Key, '/')+1:]
		if len(b3) == 64 {
			if _, err := hex.Decode(k[:], []byte(b3)); err == nil {
				have[k] = oi.Size
			}
		}
	}
	type ref struct {
		size  int64
		where string
	}
	refs := map[[32]byte]ref{}
	snaps, err := h.Snapshots(ctx, "")
	if err != nil {
		return nil, err
	}
	res.Snapshots = len(snaps)
	for _, s := range snaps {
		for e, err := range h.Entries(ctx, s, tempDir(o.TempDir)) {
			if err != nil {
				res.Problems = append(res.Problems, FileError{Path: "snapshot " + s.ID, Err: err.Error()})
				break
			}
			if e.Dir {
				continue
			}
			var k [32]byte
			hex.Decode(k[:], []byte(e.B3))
			if _, ok := refs[k]; !ok {
				refs[k] = ref{e.Size, fmt.Sprintf("snapshot %s: %s", s.ID, e.Path)}
			}
		}
	}
	if o.ExtraRefs != nil {
		err := o.ExtraRefs(ctx, func(b3 string) {
			var k [32]byte
			if _, err := hex.Decode(k[:], []byte(b3)); err == nil {
				if _, ok := refs[k]; !ok {
					refs[k] = ref{-1, "media catalog"}
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	res.Blobs = int64(len(refs))
	keys := make([][32]byte, 0, len(refs))
	for k := range refs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	if o.Progress != nil && o.ReadData {
		var total int64
		for _, k := range keys {
			total += have[k]
		}
		o.Progress.AddTotal(total, len(keys))
	}
	for _, k := range keys {
		r := refs[k]
		b3 := hex.EncodeToString(k[:])
		size, ok := have[k]
		switch {
		case !ok:
			res.Problems = append(res.Problems, FileError{Path: hub.BlobKey(b3), Err: "missing (used by " + r.where + ")"})
			continue
		case r.size >= 0 && size != r.size:
			res.Problems = append(res.Problems, FileError{Path: hub.BlobKey(b3), Err: fmt.Sprintf("%d bytes, expected %d (used by %s)", size, r.size, r.where)})
			continue
		}
		if !o.ReadData {
			continue
		}
		got, n, err := blobB3(ctx, h, b3, o.Progress)
		res.Checked++
		res.Bytes += n
		switch {
		case err != nil:
			res.Problems = append(res.Problems, FileError{Path: hub.BlobKey(b3), Err: err.Error()})
		case got != b3:
			res.Problems = append(res.Problems, FileError{Path: hub.BlobKey(b3), Err: "content does not match its hash (BLAKE3 " + got + "): damaged in the hub (used by " + r.where + ")"})
		}
		if o.Progress != nil {
			o.Progress.FileDone()
		}
	}
	return res, nil
}

func blobB3(ctx context.Context, h *hub.Hub, b3 string, p Progress) (string, int64, error) {
	rc, err := h.OpenBlob(ctx, b3)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	hh := blake3.New()
	var w io.Writer = hh
	if p != nil {
		w = io.MultiWriter(hh, progressWriter{p})
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(hh.Sum(nil)), n, nil
}
