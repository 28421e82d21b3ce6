// Package catalog owns the shared media catalog and the engines that move
// media through it (push, pull, status, watch): what media the team has
// pushed (newly shot footage, archive, stills, stock, VFX, music, guide VO),
// where it belongs on editors' drives, which drives have it, and the last
// backup of each set. It is never stored as a mutable object: it is a fold
// of the hub's append-only event log, so several assistants can push at once
// from different homes without locks, and every reader computes the same
// catalog from the same events. Checkpoints keep reading fast after tens of
// thousands of events.
//
// Folding rules, applied in event-log order (batch ID, then position):
//   - pushed: a path not in the catalog is added. The same content again
//     changes nothing. Different content at a path already in the catalog
//     is taken only if the event replaces the catalog's current version
//     (push --replace names it); otherwise it is a conflict — two people
//     pushed different files to one path at once — kept for `status`, and
//     the first push stands.
//     A push carries the item's expiry (review media, purged from drives
//     when it passes); the same content pushed again "replacing itself"
//     changes only the expiry.
//   - withdrawn: the path leaves the catalog (its history stays).
//   - pulled, copied: a drive has that content at that path.
//   - removed, purged: a drive no longer has it.
//   - backed-up, verified, verify-failed: the last backup of a set, the last
//     verification of a drive.
package catalog

import (
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/treepath"
)

// Item is one piece of media in the catalog.
type Item struct {
	Path     string    `json:"path"` // where it goes on editors' drives
	Size     int64     `json:"size"`
	B3       string    `json:"b3"`
	XXH128   string    `json:"xxh128,omitempty"`
	Category string    `json:"category,omitempty"`
	Note     string    `json:"note,omitempty"`
	User     string    `json:"user,omitempty"`
	Host     string    `json:"host,omitempty"`
	Time     time.Time `json:"time"`
	MTime    time.Time `json:"mtime,omitzero"` // the file's own modification time
	EventID  string    `json:"event"`
	// Expires is when review media must be purged from drives (zero:
	// never); see purge.
	Expires time.Time `json:"expires,omitzero"`
	// Previous holds the versions this one replaced, newest first.
	Previous []Version `json:"previous,omitempty"`
}

// Version is an earlier version of an item.
type Version struct {
	B3      string    `json:"b3"`
	Size    int64     `json:"size"`
	Time    time.Time `json:"time"`
	EventID string    `json:"event"`
}

// Copy is a drive's copy of an item.
type Copy struct {
	B3   string    `json:"b3"`
	Time time.Time `json:"time"`
}

// Drive is what the log says about a drive.
type Drive struct {
	ID         string          `json:"id"`
	Label      string          `json:"label"`
	User       string          `json:"user,omitempty"` // who pulled or copied to it last
	LastCopy   time.Time       `json:"last_copy,omitempty"`
	LastPull   time.Time       `json:"last_pull,omitempty"`
	LastVerify time.Time       `json:"last_verify,omitempty"`
	VerifyOK   bool            `json:"verify_ok,omitempty"`
	FreeSpace  int64           `json:"free_space,omitempty"`
	Has        map[string]Copy `json:"has,omitempty"` // catalog paths it holds
}

// Backup is the last backup of a set.
type Backup struct {
	Set      string    `json:"set"`
	Snapshot string    `json:"snapshot"`
	Time     time.Time `json:"time"`
	User     string    `json:"user,omitempty"`
	Host     string    `json:"host,omitempty"`
	Bytes    int64     `json:"bytes"`
	Note     string    `json:"note,omitempty"`
}

// Conflict is a push that lost: different content for a path the catalog
// already had, pushed without replacing it.
type Conflict struct {
	Path    string    `json:"path"`
	B3      string    `json:"b3"`
	Kept    string    `json:"kept"` // the catalog's version
	User    string    `json:"user,omitempty"`
	Host    string    `json:"host,omitempty"`
	Time    time.Time `json:"time"`
	EventID string    `json:"event"`
}

// Rejected is a push the catalog refused to take: its path would escape a
// drive, or its hash is malformed. Kept (a few) so pull and status can say
// so, rather than dropping it silently.
type Rejected struct {
	Path    string    `json:"path"`
	Reason  string    `json:"reason"`
	User    string    `json:"user,omitempty"`
	Host    string    `json:"host,omitempty"`
	Time    time.Time `json:"time"`
	EventID string    `json:"event"`
}

// maxRejected bounds the rejected entries kept: a hostile writer must not
// be able to make the catalog grow without end.
const maxRejected = 100

// State is the catalog as of a point in the event log.
type State struct {
	Items     map[string]*Item  `json:"items"`
	Withdrawn map[string]*Item  `json:"withdrawn,omitempty"`
	Drives    map[string]*Drive `json:"drives"`
	Backups   map[string]Backup `json:"backups"`
	Conflicts []Conflict        `json:"conflicts,omitempty"`
	Rejected  []Rejected        `json:"rejected,omitempty"`
	// Events counts the events folded in.
	Events int64 `json:"events"`
}

// NewState returns an empty catalog.
func NewState() *State {
	return &State{
		Items:     map[string]*Item{},
		Withdrawn: map[string]*Item{},
		Drives:    map[string]*Drive{},
		Backups:   map[string]Backup{},
	}
}

func (s *State) drive(id, label string) *Drive {
	d := s.Drives[id]
	if d == nil {
		d = &Drive{ID: id, Label: label, Has: map[string]Copy{}}
		s.Drives[id] = d
	}
	if d.Has == nil {
		d.Has = map[string]Copy{}
	}
	if label != "" {
		d.Label = label
	}
	return d
}

// Apply folds one event in. Events must come in log order. An event whose
// path is not a clean relative path is ignored: the log may be written by
// anyone with access to the hub, and a path like "../x" must never reach a
// drive.
func (s *State) Apply(e event.Event) {
	s.Events++
	switch e.Action {
	case event.Pushed:
		if err := treepath.Validate(e.Path); err != nil || !validHash(e.Hash) || e.Size < 0 {
			reason := "malformed hash"
			switch {
			case err != nil:
				reason = err.Error()
			case e.Size < 0:
				reason = "negative size"
			}
			if len(s.Rejected) < maxRejected {
				s.Rejected = append(s.Rejected, Rejected{Path: e.Path, Reason: reason, User: e.User, Host: e.Host, Time: e.Time, EventID: e.ID})
			}
			return
		}
		cur, ok := s.Items[e.Path]
		switch {
		case ok && cur.B3 == e.Hash:
			if e.Replaces == e.Hash {
				cur.Expires = e.Expires // a new expiry for the same content
			}
			return // the same content again
		case ok && e.Replaces != cur.B3:
			s.Conflicts = append(s.Conflicts, Conflict{Path: e.Path, B3: e.Hash, Kept: cur.B3, User: e.User, Host: e.Host, Time: e.Time, EventID: e.ID})
			return
		}
		it := &Item{Path: e.Path, Size: e.Size, B3: e.Hash, XXH128: e.XXH128, Category: e.Category, Note: e.Note,
			User: e.User, Host: e.Host, Time: e.Time, MTime: e.MTime, EventID: e.ID, Expires: e.Expires}
		if ok {
			it.Previous = append([]Version{{B3: cur.B3, Size: cur.Size, Time: cur.Time, EventID: cur.EventID}}, cur.Previous...)
		} else if w, was := s.Withdrawn[e.Path]; was {
			it.Previous = append([]Version{{B3: w.B3, Size: w.Size, Time: w.Time, EventID: w.EventID}}, w.Previous...)
		}
		delete(s.Withdrawn, e.Path)
		s.Items[e.Path] = it
	case event.Withdrawn:
		if it, ok := s.Items[e.Path]; ok {
			s.Withdrawn[e.Path] = it
			delete(s.Items, e.Path)
		}
	case event.Pulled, event.Copied:
		if e.DriveID == "" {
			return
		}
		d := s.drive(e.DriveID, e.Drive)
		d.User = e.User
		if e.FreeSpace > 0 {
			d.FreeSpace = e.FreeSpace
		}
		if e.Action == event.Pulled {
			d.LastPull = e.Time
		} else {
			d.LastCopy = e.Time
		}
		if treepath.Validate(e.Path) == nil && e.Hash != "" {
			d.Has[e.Path] = Copy{B3: e.Hash, Time: e.Time}
		}
	case event.Removed, event.Purged:
		if d := s.Drives[e.DriveID]; d != nil {
			delete(d.Has, e.Path)
		}
	case event.Verified, event.VerifyFailed:
		if e.DriveID == "" {
			return
		}
		d := s.drive(e.DriveID, e.Drive)
		d.LastVerify, d.VerifyOK = e.Time, e.Action == event.Verified
		if e.FreeSpace > 0 {
			d.FreeSpace = e.FreeSpace
		}
	case event.BackedUp:
		if e.Set != "" {
			s.Backups[e.Set] = Backup{Set: e.Set, Snapshot: e.Snapshot, Time: e.Time, User: e.User, Host: e.Host, Bytes: e.Size, Note: e.Note}
		}
	}
}

// validHash reports whether s is a BLAKE3 as the hub names blobs: 64
// lowercase hex digits.
func validHash(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// Sorted returns the items in tree order.
func (s *State) Sorted() []*Item {
	out := make([]*Item, 0, len(s.Items))
	for _, it := range s.Items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return treepath.Less(out[i].Path, out[j].Path) })
	return out
}

// Lookup returns the catalog's item at path.
func (s *State) Lookup(path string) (*Item, bool) {
	it, ok := s.Items[path]
	return it, ok
}
