package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/run"
)

// Policy says which snapshots to keep, per set: the newest snapshot of each
// of the last N days, ISO weeks and months (in local time), and the last N.
// A snapshot kept by any rule is kept.
type Policy struct {
	Last, Daily, Weekly, Monthly int
}

func (p Policy) empty() bool { return p.Last+p.Daily+p.Weekly+p.Monthly == 0 }

// Keep splits snapshots (of one set) into kept and removed.
func (p Policy) Keep(snaps []*contenthub.Snapshot) (keep, remove []*contenthub.Snapshot) {
	sorted := append([]*contenthub.Snapshot(nil), snaps...)
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
	run.Env
	Set    string // "" for every set
	Policy Policy
	// Grace protects blobs from clients still uploading: a blob is deleted
	// only if it was unreferenced in a prune at least Grace ago, still is,
	// and was uploaded more than Grace ago. 0 deletes unreferenced blobs at
	// once (only safe when nobody else uses the hub).
	Grace time.Duration
	// ExtraRefs lists blobs referenced outside snapshots (the media
	// catalog), which must never be deleted; where names the user.
	ExtraRefs func(ctx context.Context, add func(b3, where string)) error
	DryRun    bool
	TempDir   string
	// Hook, if set, is called between the steps of the prune ("listed",
	// "marked", "announced", "relisted", "deleted"): tests use it to
	// interleave a prune with a backup deterministically, or to stop it.
	Hook func(step string)
	// CompactHook is CompactOptions.Hook for the prune's compaction.
	CompactHook func(step string)
}

func (o *PruneOptions) hook(step string) {
	if o.Hook != nil {
		o.Hook(step)
	}
}

// deletionWindow is how long a prune may go on deleting after announcing
// it; what is left waits for the next prune.
const deletionWindow = 15 * time.Minute

// DamagedSnapshot is a snapshot whose file list cannot be read.
type DamagedSnapshot struct {
	ID    string `json:"id"`
	Set   string `json:"set"`
	Error string `json:"error"`
}

// PruneResult is what a prune did (or would do).
type PruneResult struct {
	Kept           []string `json:"kept"`
	Removed        []string `json:"removed"`
	BlobsDeleted   int64    `json:"blobs_deleted"`
	BytesFreed     int64    `json:"bytes_freed"`
	BlobsPending   int64    `json:"blobs_pending"`    // unreferenced, deleted by a later prune after the grace period
	BlobsKept      int64    `json:"blobs_kept_again"` // announced, but a snapshot or push that appeared meanwhile uses them
	UploadsAborted int      `json:"uploads_aborted"`
	DryRun         bool     `json:"dry_run"`
	// Damaged lists kept snapshots whose file list cannot be read: while
	// there are any, no blob is deleted (one of them might use it).
	Damaged []DamagedSnapshot `json:"damaged,omitempty"`
	// Compact is what happened to the packs (nil in a dry run).
	Compact *contenthub.CompactResult `json:"packs,omitempty"`
	// NotCompacted says why no blob was deleted and no pack touched:
	// another prune or hub pack was compacting the hub.
	NotCompacted string        `json:"not_compacted,omitempty"`
	Events       []event.Event `json:"-"`
}

// OK reports whether the prune could do all its work.
func (r *PruneResult) OK() bool { return len(r.Damaged) == 0 }

// refSet is a set of blob hashes.
type refSet map[[32]byte]bool

func (r refSet) add(b3 string) {
	var k [32]byte
	if _, err := hex.Decode(k[:], []byte(b3)); err == nil && len(b3) == 64 {
		r[k] = true
	}
}

func (r refSet) has(b3 string) bool {
	var k [32]byte
	if _, err := hex.Decode(k[:], []byte(b3)); err != nil {
		return false
	}
	return r[k]
}

// addSnapshot adds the blobs of s; a damaged file list is returned as such.
func addSnapshot(ctx context.Context, h *contenthub.Hub, s *contenthub.Snapshot, tmp string, refs refSet) (*DamagedSnapshot, error) {
	for e, err := range h.Entries(ctx, s, tmp) {
		var dmg *contenthub.DamagedError
		if errors.As(err, &dmg) {
			return &DamagedSnapshot{ID: s.ID, Set: s.Set, Error: err.Error()}, nil
		}
		if err != nil {
			return nil, err
		}
		if !e.Dir {
			refs.add(e.B3)
		}
	}
	return nil, nil
}

// Prune removes snapshots the policy does not keep, then the blobs nothing
// references any more, and multipart uploads abandoned for longer than
// Grace. It is safe while others back up or push, without a lock (see the
// protocol in package contenthub, gc.go):
//
//   - a blob is first marked (prune/pending.json) and deleted only by a
//     prune at least Grace later, if it is still unreferenced and was not
//     uploaded within Grace;
//   - before deleting, the prune announces the blobs (prune/deleting/),
//     reads every snapshot and catalog event that appeared since it started
//     and keeps what they use; backups and pushes wait for announcements
//     naming blobs they use and upload again what was deleted.
func Prune(ctx context.Context, h *contenthub.Hub, o PruneOptions) (*PruneResult, error) {
	if o.Policy.empty() {
		return nil, errors.New("give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly: an empty policy would remove every snapshot")
	}
	o.Env = o.Env.WithDefaults()
	tmp, doneTmp, err := scratchDir(tempDir(o.TempDir))
	if err != nil {
		return nil, err
	}
	defer doneTmp()
	p := &pruner{h: h, o: &o, res: &PruneResult{DryRun: o.DryRun}, tmp: tmp, refs: refSet{}, known: map[string]bool{},
		next: contenthub.PendingList{Blobs: map[string]time.Time{}}}
	res := p.res
	all, err := h.Snapshots(ctx, "")
	if err != nil {
		return nil, err
	}
	kept, err := p.applyPolicy(ctx, all)
	if err != nil {
		return res, err
	}
	o.hook("listed")

	// Mark: every blob the kept snapshots and the catalog use.
	for _, s := range kept {
		dmg, err := addSnapshot(ctx, h, s, tmp, p.refs)
		if err != nil {
			return res, err
		}
		if dmg != nil {
			res.Damaged = append(res.Damaged, *dmg)
		}
	}
	if err := p.addExtraRefs(ctx); err != nil {
		return res, err
	}
	doomed, err := p.unreferenced(ctx)
	if err != nil {
		return res, err
	}
	o.hook("marked")
	if o.DryRun {
		for _, c := range doomed {
			res.BlobsDeleted++
			res.BytesFreed += c.size
		}
	} else if len(doomed) > 0 {
		if err := p.delete(ctx, doomed); err != nil {
			return res, err
		}
	} else if _, err := p.compact(ctx, nil); err != nil {
		return res, err
	}
	res.BlobsPending = int64(len(p.next.Blobs))
	if !o.DryRun {
		if err := p.finish(ctx); err != nil {
			return res, err
		}
	}
	ev := event.New(o.Now(), event.Pruned)
	ev.Host, ev.User, ev.Set = o.Host, o.User, o.Set
	ev.Size = res.BytesFreed
	ev.Note = fmt.Sprintf("%d snapshots removed, %d kept, %d blobs deleted, %d pending", len(res.Removed), len(res.Kept), res.BlobsDeleted, res.BlobsPending)
	if len(res.Damaged) > 0 {
		ev.Note += fmt.Sprintf("; %d snapshots with a damaged file list, no blob deleted", len(res.Damaged))
	}
	if !o.DryRun {
		res.Events = []event.Event{ev}
	}
	return res, nil
}

// pruner is one prune's state between its steps.
type pruner struct {
	h     *contenthub.Hub
	o     *PruneOptions
	res   *PruneResult
	tmp   string
	refs  refSet                 // blobs something kept uses
	known map[string]bool        // the snapshots there were at the start
	next  contenthub.PendingList // blobs marked now, for a later prune to delete
	now   time.Time              // when the sweep started
}

// candidate is an unreferenced blob a prune may delete.
type candidate struct {
	b3    string
	size  int64
	first time.Time // when a prune first found it unreferenced
}

// applyPolicy removes the snapshots the policy does not keep (unless a dry
// run) and returns the ones kept, of every set.
func (p *pruner) applyPolicy(ctx context.Context, all []*contenthub.Snapshot) ([]*contenthub.Snapshot, error) {
	o, res := p.o, p.res
	bySet := map[string][]*contenthub.Snapshot{}
	for _, s := range all {
		p.known[s.ID] = true
		bySet[s.Set] = append(bySet[s.Set], s)
	}
	var kept []*contenthub.Snapshot
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
				if err := p.h.DeleteSnapshot(ctx, s); err != nil {
					return nil, fmt.Errorf("removing snapshot %s: %w", s.ID, err)
				}
			}
		}
	}
	sort.Strings(res.Kept)
	sort.Strings(res.Removed)
	return kept, nil
}

// addExtraRefs marks what is used outside snapshots (the catalog).
func (p *pruner) addExtraRefs(ctx context.Context) error {
	if p.o.ExtraRefs == nil {
		return nil
	}
	return p.o.ExtraRefs(ctx, func(b3, _ string) { p.refs.add(b3) })
}

// unreferenced sweeps, in two steps separated by the grace period: a blob
// is deleted only once it has been unreferenced for Grace, and if it was
// uploaded more than Grace ago. It returns the blobs whose time has come
// and marks the others in p.next.
func (p *pruner) unreferenced(ctx context.Context) ([]candidate, error) {
	o, h := p.o, p.h
	prev, err := h.ReadPending(ctx)
	if err != nil {
		return nil, err
	}
	p.now = o.Now()
	now := p.now
	var doomed []candidate
	// A blob can be stored twice (an object of its own from before packs,
	// and packed): it goes only if every copy is older than Grace.
	recent, listed := refSet{}, refSet{}
	for blob, err := range h.Blobs(ctx) {
		if err != nil {
			return nil, err
		}
		b3 := blob.B3
		if p.refs.has(b3) {
			continue
		}
		if now.Sub(blob.Modified) < o.Grace {
			recent.add(b3) // uploaded recently: a backup in progress may need it
			continue
		}
		if listed.has(b3) {
			continue
		}
		listed.add(b3)
		first, seen := prev.Blobs[b3]
		if !seen {
			first = now
		}
		if (o.Grace > 0 && now.Sub(first) < o.Grace) || len(p.res.Damaged) > 0 {
			p.next.Blobs[b3] = first
			continue
		}
		doomed = append(doomed, candidate{b3, blob.Size, first})
	}
	doomed = slices.DeleteFunc(doomed, func(c candidate) bool { return recent.has(c.b3) })
	for b3 := range p.next.Blobs {
		if recent.has(b3) {
			delete(p.next.Blobs, b3)
		}
	}
	return doomed, nil
}

// delete announces the deletion of doomed, reads what appeared since the
// listing (a backup or push that committed meanwhile keeps its blobs; one
// that commits after this sees the announcement and puts back what is
// deleted), and deletes the blobs still unused.
func (p *pruner) delete(ctx context.Context, doomed []candidate) error {
	o, h, res := p.o, p.h, p.res
	d := &contenthub.Deletion{ID: contenthub.NewRunID(p.now), Host: o.Host, PID: os.Getpid(), User: o.User, Started: p.now, Deadline: p.now.Add(deletionWindow)}
	for _, c := range doomed {
		d.Blobs = append(d.Blobs, c.b3)
	}
	if err := h.AnnounceDeletion(ctx, d); err != nil {
		return err
	}
	o.hook("announced")
	again, err := h.Snapshots(ctx, "")
	if err != nil {
		return err
	}
	late := false
	for _, s := range again {
		if p.known[s.ID] {
			continue
		}
		dmg, err := addSnapshot(ctx, h, s, p.tmp, p.refs)
		if err != nil {
			return err
		}
		if dmg != nil {
			late = true // unreadable: it might use any of them
		}
	}
	if err := p.addExtraRefs(ctx); err != nil {
		return err
	}
	o.hook("relisted")
	var gone []string
	var goneC []candidate
	var freed int64
	for _, c := range doomed {
		switch {
		case p.refs.has(c.b3):
			res.BlobsKept++
			continue
		case late || o.Now().After(d.Deadline):
			p.next.Blobs[c.b3] = c.first
			continue
		}
		gone = append(gone, c.b3)
		goneC = append(goneC, c)
		freed += c.size
	}
	// Loose blobs are deleted, packs holding only these deleted, packs
	// mostly holding them rewritten with the rest first.
	compacted, err := p.compact(ctx, gone)
	if err != nil {
		return err
	}
	if !compacted {
		// Another compaction runs: these go with the next prune.
		for _, c := range goneC {
			p.next.Blobs[c.b3] = c.first
		}
		gone, freed = nil, 0
	}
	res.BlobsDeleted += int64(len(gone))
	res.BytesFreed += freed
	o.hook("deleted")
	return h.EndDeletion(ctx, d.ID)
}

// compact removes the blobs gone from the hub and tidies its packs:
// repacks mostly unused ones, packs loose small blobs of older hubs, and
// merges the index. While another prune or hub pack compacts the hub it
// does nothing, says so in NotCompacted, and reports false: removing
// snapshots and marking blobs is still sound (the deletion protocol of
// gc.go does not rely on the lease), deleting blobs waits for the next
// prune.
func (p *pruner) compact(ctx context.Context, gone []string) (bool, error) {
	r, err := p.h.Compact(ctx, gone, contenthub.CompactOptions{
		PackLoose: true, MinAge: max(p.o.Grace, time.Hour), Now: p.o.Now,
		Holder: contenthub.LeaseHolder{User: p.o.User, Host: p.o.Host}, Hook: p.o.CompactHook,
	})
	if errors.Is(err, contenthub.ErrCompacting) {
		p.res.NotCompacted = err.Error()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.res.Compact = r
	return true, nil
}

// finish writes the marks for the next prune, ends the announcements of
// prunes killed mid-way and aborts abandoned uploads.
func (p *pruner) finish(ctx context.Context) error {
	o, h := p.o, p.h
	if err := h.WritePending(ctx, p.next); err != nil {
		return err
	}
	if ds, err := h.Deletions(ctx); err == nil {
		for _, id := range contenthub.StaleDeletions(ds, o.Now(), o.Host) {
			h.EndDeletion(ctx, id)
		}
	}
	n, err := h.AbortUploads(ctx, o.Grace)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	p.res.UploadsAborted = n
	return nil
}

func tempDir(d string) string {
	if d == "" {
		return os.TempDir()
	}
	return d
}

// CheckOptions configure a hub check.
type CheckOptions struct {
	run.Env
	ReadData bool // download and re-hash every referenced blob
	// Repair, with ReadData, removes the blobs found damaged (recording
	// them, so the next backup or push of a file that still exists uploads
	// it again rather than taking it as present).
	Repair    bool
	ExtraRefs func(ctx context.Context, add func(b3, where string)) error
	TempDir   string
}

// CheckProblem is one blob the hub lacks or holds damaged, with everything
// that uses it.
type CheckProblem struct {
	Blob    string   `json:"blob"`
	Problem string   `json:"problem"`
	UsedBy  []string `json:"used_by"`
	Damaged bool     `json:"damaged,omitempty"` // present with the wrong content or size
	Removed bool     `json:"removed,omitempty"` // by --repair
}

// CheckResult is what a hub check found.
type CheckResult struct {
	Snapshots int               `json:"snapshots"`
	Blobs     int64             `json:"blobs_referenced"`
	Checked   int64             `json:"blobs_read"` // with ReadData
	Bytes     int64             `json:"bytes_read"`
	Problems  []CheckProblem    `json:"problems,omitempty"`
	Damaged   []DamagedSnapshot `json:"damaged_snapshots,omitempty"`
	// Index lists what is wrong with the pack index (an unreadable index
	// object, an entry naming a pack that is gone or beyond its end, a
	// pack no index names).
	Index        []string `json:"index_problems,omitempty"`
	IndexRebuilt bool     `json:"index_rebuilt,omitempty"` // by --repair, from the packs
	// IndexRepaired is what was wrong with the index before --repair
	// rebuilt it.
	IndexRepaired []string `json:"index_repaired,omitempty"`
	Repaired      int      `json:"blobs_removed,omitempty"`
}

// OK reports whether the hub holds everything its snapshots and catalog need.
func (r *CheckResult) OK() bool {
	return len(r.Problems) == 0 && len(r.Damaged) == 0 && len(r.Index) == 0
}

// Check verifies that every blob a snapshot (or the catalog) references
// exists in the hub, with the right size; with ReadData each is downloaded
// and re-hashed. Every snapshot file and catalog item that uses a missing
// or damaged blob is named; a snapshot whose file list is damaged is
// reported with the command that drops it.
func Check(ctx context.Context, h *contenthub.Hub, o CheckOptions) (*CheckResult, error) {
	o.Env = o.Env.WithDefaults()
	tmp, doneTmp, err := scratchDir(tempDir(o.TempDir))
	if err != nil {
		return nil, err
	}
	defer doneTmp()
	res := &CheckResult{}
	if res.Index, err = h.IndexProblems(ctx, o.Now()); err != nil {
		return nil, err
	}
	if o.Repair && len(res.Index) > 0 {
		// Rebuilt first, so the blobs are checked against what the packs
		// hold.
		if _, err := h.Compact(ctx, nil, contenthub.CompactOptions{FromPacks: true, Now: o.Now}); err != nil {
			return nil, fmt.Errorf("rebuilding the pack index: %w", againLater(err))
		}
		res.IndexRebuilt, res.IndexRepaired = true, res.Index
		if res.Index, err = h.IndexProblems(ctx, o.Now()); err != nil {
			return nil, err
		}
	}
	have, err := blobSizes(ctx, h)
	if err != nil {
		return nil, err
	}
	refs := map[[32]byte]int64{} // expected size, -1 unknown
	snaps, err := h.Snapshots(ctx, "")
	if contenthub.OnlyDamaged(err) {
		// Unreadable summaries are reported; every other snapshot is checked.
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var dmg *contenthub.DamagedError
			errors.As(e, &dmg)
			res.Damaged = append(res.Damaged, DamagedSnapshot{ID: dmg.ID, Set: dmg.Set, Error: e.Error()})
		}
	} else if err != nil {
		return nil, err
	}
	res.Snapshots = len(snaps)
	// users walks every reference once, calling f with where it is.
	users := func(first bool, f func(k [32]byte, size int64, where string)) error {
		for _, s := range snaps {
			for e, err := range h.Entries(ctx, s, tmp) {
				var dmg *contenthub.DamagedError
				if errors.As(err, &dmg) {
					if first {
						res.Damaged = append(res.Damaged, DamagedSnapshot{ID: s.ID, Set: s.Set, Error: err.Error()})
					}
					break
				}
				if err != nil {
					return err
				}
				if e.Dir {
					continue
				}
				var k [32]byte
				hex.Decode(k[:], []byte(e.B3))
				f(k, e.Size, fmt.Sprintf("snapshot %s (set %s): %s", s.ID, s.Set, path.Join(path.Base(s.Paths[e.Root]), e.Path)))
			}
		}
		if o.ExtraRefs == nil {
			return nil
		}
		return o.ExtraRefs(ctx, func(b3, where string) {
			var k [32]byte
			if _, err := hex.Decode(k[:], []byte(b3)); err == nil && len(b3) == 64 {
				f(k, -1, where)
			}
		})
	}
	err = users(true, func(k [32]byte, size int64, _ string) {
		if cur, ok := refs[k]; !ok || cur < 0 {
			refs[k] = size
		}
	})
	if err != nil {
		return nil, err
	}
	res.Blobs = int64(len(refs))
	bad, err := checkBlobs(ctx, h, o, res, refs, have)
	if err != nil {
		return nil, err
	}
	if len(bad) == 0 {
		return res, nil
	}
	// Second pass: everything that uses a problem blob, not only the first.
	err = users(false, func(k [32]byte, _ int64, where string) {
		if p, ok := bad[k]; ok {
			p.UsedBy = append(p.UsedBy, where)
		}
	})
	if err != nil {
		return nil, err
	}
	var damaged []string
	for k, p := range bad {
		if p.Damaged {
			damaged = append(damaged, hex.EncodeToString(k[:]))
		}
		res.Problems = append(res.Problems, *p)
	}
	sort.Slice(res.Problems, func(i, j int) bool { return res.Problems[i].Blob < res.Problems[j].Blob })
	sort.Strings(damaged)
	if o.Repair && len(damaged) > 0 {
		return res, repair(ctx, h, o, res, damaged)
	}
	return res, nil
}

// checkBlobs checks that every blob referenced (with the size expected, -1
// if unknown) is in the hub (have: the sizes listed) with that size and,
// with ReadData, that its content hashes to its name.
func checkBlobs(ctx context.Context, h *contenthub.Hub, o CheckOptions, res *CheckResult, refs, have map[[32]byte]int64) (map[[32]byte]*CheckProblem, error) {
	keys := make([][32]byte, 0, len(refs))
	for k := range refs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	if o.ReadData {
		var total int64
		for _, k := range keys {
			total += have[k]
		}
		o.Progress.AddTotal(total, len(keys))
	}
	bad := map[[32]byte]*CheckProblem{}
	problem := func(k [32]byte, what string, damaged bool) {
		bad[k] = &CheckProblem{Blob: contenthub.BlobKey(hex.EncodeToString(k[:])), Problem: what, Damaged: damaged}
	}
	var read []string
	for _, k := range keys {
		size := refs[k]
		got, ok := have[k]
		switch {
		case !ok:
			problem(k, "missing", false)
		case size >= 0 && got != size:
			problem(k, fmt.Sprintf("%d bytes, expected %d: damaged in the hub", got, size), true)
		case o.ReadData:
			read = append(read, hex.EncodeToString(k[:]))
		}
	}
	if len(read) == 0 {
		return bad, nil
	}
	// Read pack by pack, hashing every blob.
	err := h.VerifyBlobs(ctx, read, func(n int64) { o.Progress.Add(n); res.Bytes += n }, func(b3 string, err error) {
		var k [32]byte
		hex.Decode(k[:], []byte(b3))
		res.Checked++
		o.Progress.FileDone()
		if err != nil {
			problem(k, err.Error(), errors.Is(err, contenthub.ErrDamaged))
		}
	})
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return bad, err
}

// blobSizes lists the hub's blobs with their sizes.
func blobSizes(ctx context.Context, h *contenthub.Hub) (map[[32]byte]int64, error) {
	have := map[[32]byte]int64{}
	for blob, err := range h.Blobs(ctx) {
		if err != nil {
			return nil, err
		}
		var k [32]byte
		if _, err := hex.Decode(k[:], []byte(blob.B3)); err == nil {
			have[k] = blob.Size
		}
	}
	return have, nil
}

// repair removes the damaged blobs, recording them first, so a backup that
// reuses one of them checks it even if this run stops half-way; a packed
// one is dropped from its pack (the rest repacked). The index is rebuilt
// from the packs' own headers.
func repair(ctx context.Context, h *contenthub.Hub, o CheckOptions, res *CheckResult, damaged []string) error {
	now := o.Now()
	if len(damaged) > 0 {
		if err := h.RecordRepair(ctx, &contenthub.Repair{ID: contenthub.NewRunID(now), Time: now, Host: o.Host, User: o.User, Blobs: damaged}); err != nil {
			return fmt.Errorf("recording the repair: %w", err)
		}
	}
	if _, err := h.Compact(ctx, damaged, contenthub.CompactOptions{FromPacks: true, Now: o.Now}); err != nil {
		return fmt.Errorf("removing %d damaged blobs and rebuilding the index: %w", len(damaged), againLater(err))
	}
	res.IndexRebuilt = true
	removed := map[string]bool{}
	for _, b3 := range damaged {
		removed[contenthub.BlobKey(b3)] = true
		res.Repaired++
	}
	for i := range res.Problems {
		res.Problems[i].Removed = removed[res.Problems[i].Blob]
	}
	return nil
}

// againLater tells the user of hub check --repair what to do when another
// compaction holds the hub.
func againLater(err error) error {
	if errors.Is(err, contenthub.ErrCompacting) {
		return fmt.Errorf("%w; run `editkit hub check --repair` again once it has finished", err)
	}
	return err
}
