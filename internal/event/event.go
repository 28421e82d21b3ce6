// Package event owns the record of one change editkit made — a file copied
// to a drive, a drive verified, media pushed to or pulled from the hub, a
// backup, a restore, a prune — as it is kept in the hub's append-only event
// log and shown as one row in the tracker.
package event

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Actions.
const (
	Copied       = "copied"
	Verified     = "verified"
	VerifyFailed = "verify-failed"
	Pushed       = "pushed"
	Pulled       = "pulled"
	BackedUp     = "backed-up"
	Restored     = "restored"
	Pruned       = "pruned"
	Withdrawn    = "withdrawn" // media taken out of the catalog
	Removed      = "removed"   // media withdrawn from the catalog deleted from a drive (pull --prune)
	Purged       = "purged"    // media deliberately removed from a drive (purge), e.g. expired review copies
)

// Event is one change. ID is unique across every editkit everywhere and
// sorts by time, so the log can be read in order and a row is never written
// twice: the tracker checks IDs.
type Event struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	User     string    `json:"user,omitempty"`
	Host     string    `json:"host,omitempty"`
	Action   string    `json:"action"`
	Drive    string    `json:"drive,omitempty"`    // label
	DriveID  string    `json:"drive_id,omitempty"` // generated ID
	Path     string    `json:"path,omitempty"`     // tree path of the file (or folder, or set)
	Category string    `json:"category,omitempty"` // vfx, music, sfx, archive, stock, stills, footage, guide-vo, other
	Size     int64     `json:"size,omitempty"`
	Hash     string    `json:"hash,omitempty"` // BLAKE3, hex
	XXH128   string    `json:"xxh128,omitempty"`
	// Replaces is, for a push with --replace, the BLAKE3 of the version it
	// replaces at the same path.
	Replaces string `json:"replaces,omitempty"`
	// MTime is a pushed file's modification time, kept on editors' drives.
	MTime time.Time `json:"mtime,omitzero"`
	// Expires is, for a push of review media, when it must be purged from
	// drives (zero: never). A push of content the catalog already has at
	// that path with Replaces equal to Hash changes only its expiry.
	Expires   time.Time `json:"expires,omitzero"`
	Note      string    `json:"note,omitempty"`
	Set       string    `json:"set,omitempty"`        // backup set
	Snapshot  string    `json:"snapshot,omitempty"`   // backup snapshot ID
	FreeSpace int64     `json:"free_space,omitempty"` // of the drive, when known
}

// NewID returns a new event ID: the UTC time to the microsecond, then 8
// random hex digits, e.g. 20261124T153329.123456Z-9f2c01ab.
func NewID(t time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return t.UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b[:])
}

// New returns an event with a fresh ID at time t.
func New(t time.Time, action string) Event {
	return Event{ID: NewID(t), Time: t.UTC(), Action: action}
}

// Validate checks an event read from outside (the hub, an outbox).
func (e Event) Validate() error {
	if e.ID == "" || strings.ContainsAny(e.ID, "/\\\x00") || len(e.ID) > 100 {
		return fmt.Errorf("event id %q is not valid", e.ID)
	}
	if e.Action == "" {
		return fmt.Errorf("event %s has no action", e.ID)
	}
	return nil
}
