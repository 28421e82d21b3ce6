// Package manifest owns what a drive knows about itself, under its .editkit/
// folder: its identity (label and generated ID), what editkit last did to it,
// and the manifest of every file editkit placed there with its size, mtime
// and hashes.
//
// # On-disk format (version 1)
//
//	.editkit/drive.json    identity and state (JSON, replaced atomically)
//	.editkit/manifest.ekm  the manifest: one record per line, sorted in tree order
//	.editkit/journal.ekj   records appended as files complete, since the last compaction
//	.editkit/lock          held while a command writes to the drive
//
// Both .ekm and .ekj files are "checked lines": each line is a JSON object,
// a tab, the CRC-32C of the JSON as 8 hex digits, and a newline. The first
// line of manifest.ekm is a header ({"format":"editkit-manifest/1",...}) and
// the last a trailer ({"end":true,"records":N}); the body is sorted by path in
// tree order (treepath.Compare), so it can be read as a stream and merged
// with a walk of a folder without loading it.
//
// The journal is append-only. A crash can leave a torn last line; its CRC
// does not match, so readers stop there and writers truncate it before
// appending. Compaction merges the journal into a new manifest.ekm (an
// external merge sort, so a million-record journal needs no more memory than
// one run), written beside the old one, fsynced and renamed over it; only
// then is the journal removed. A record's seq orders updates of one path:
// the highest wins, so replaying a journal after a crash mid-compaction is
// harmless.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/treepath"
)

// DirName is the folder at a drive's root that holds editkit's state.
const DirName = ".editkit"

const (
	infoFile    = "drive.json"
	baseFile    = "manifest.ekm"
	journalFile = "journal.ekj"
	lockFile    = "lock"

	infoFormat     = "editkit-drive/1"
	manifestFormat = "editkit-manifest/1"
)

// ErrNotADrive is returned by Open for a folder editkit has never written to.
var ErrNotADrive = errors.New("no editkit manifest here (.editkit/drive.json is missing)")

// Record is what the manifest knows about one file or folder on the drive.
type Record struct {
	Path     string `json:"path"`
	Dir      bool   `json:"dir,omitempty"`
	Size     int64  `json:"size,omitempty"`
	ModTime  int64  `json:"mtime,omitempty"`     // the drive file's mtime, Unix ns, as read back (exFAT rounds)
	SrcMTime int64  `json:"src_mtime,omitempty"` // the source file's mtime when it was copied, Unix ns
	BLAKE3   string `json:"b3,omitempty"`
	XXH128   string `json:"xxh128,omitempty"`
	Origin   string `json:"origin,omitempty"`   // what put it there: copy, pull, restore
	Written  int64  `json:"written,omitempty"`  // when it was committed, Unix s
	Verified int64  `json:"verified,omitempty"` // when it was last read back and matched, Unix s
	Seq      uint64 `json:"seq"`
	Deleted  bool   `json:"deleted,omitempty"` // journal only: the path was removed
	// MXF is the file's MXF header metadata, if it is an MXF file whose
	// header was read; nil otherwise (not MXF, unreadable, or not yet indexed).
	MXF *mxf.Info `json:"mxf,omitempty"`
}

// MTime returns ModTime as a time.Time.
func (r Record) MTime() time.Time { return time.Unix(0, r.ModTime) }

// Activity summarises one command run against the drive.
type Activity struct {
	At      time.Time `json:"at"`
	Host    string    `json:"host,omitempty"`
	User    string    `json:"user,omitempty"`
	OK      bool      `json:"ok"`
	Summary string    `json:"summary,omitempty"`
}

// Run marks a command that is writing to the drive. A Run still recorded when
// the next command opens the drive means the last one was interrupted.
type Run struct {
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
}

// Info is the drive's identity and state, kept in .editkit/drive.json.
type Info struct {
	Format     string    `json:"format"`
	ID         string    `json:"id"`
	Label      string    `json:"label"`
	Created    time.Time `json:"created"`
	LastCopy   *Activity `json:"last_copy,omitempty"`
	LastVerify *Activity `json:"last_verify,omitempty"`
	LastPull   *Activity `json:"last_pull,omitempty"`
	// MHLThrough is the highest record seq already written to the drive's
	// ASC MHL history; records above it go into the next generation.
	MHLThrough uint64 `json:"mhl_through,omitempty"`
	Running    *Run   `json:"running,omitempty"`
}

// Drive is an open drive. Methods that write need a Drive opened with
// OpenForWrite or Create; it holds the drive's lock until Close.
//
// Everything it writes goes through the placement Root the drive was
// opened with (the command's, taken at its start): never through a link
// (a link at .editkit is refused), and nothing once the root is no longer
// the folder it was then (place.ErrGone: an unplugged drive's empty mount
// point is not the drive).
type Drive struct {
	Root string
	Info Info

	root *place.Root

	writable bool
	unlock   func() error
	journal  *journalWriter
	nextSeq  uint64
	runSize  int // records per in-memory sort run when compacting; tests lower it

	// mem keeps what this process wrote, so that the end of a copy does
	// not decode again what it has just encoded (see memory.go).
	mem memRecords
}

func (d *Drive) path(name string) string { return filepath.Join(d.Root, DirName, name) }
func statePath(root, name string) string { return filepath.Join(root, DirName, name) }

// IsDrive reports whether root carries an editkit manifest.
func IsDrive(root string) bool {
	_, err := os.Stat(statePath(root, infoFile))
	return err == nil
}

// openRoot opens the placement root of a drive named by path, for the
// forms of Open that take one.
func openRoot(root string) (*place.Root, error) {
	return place.Open(root, place.Hooks{})
}

// Open opens a drive for reading only: no lock is taken and nothing is written.
func Open(root string) (*Drive, error) {
	r, err := openRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", root, ErrNotADrive)
	}
	if err != nil {
		return nil, err
	}
	return OpenIn(r)
}

// OpenIn is Open for the drive at the command's placement root.
func OpenIn(r *place.Root) (*Drive, error) {
	d := &Drive{Root: r.Path(), root: r}
	if err := d.loadInfo(); err != nil {
		return nil, err
	}
	return d, nil
}

// OpenForWrite opens an existing drive, takes its lock and prepares the
// journal for appending (cutting off a torn last line left by a crash).
func OpenForWrite(root string) (*Drive, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	return OpenForWriteIn(r)
}

// OpenForWriteIn is OpenForWrite for the drive at the command's placement
// root, which the Drive keeps for every write until Close.
func OpenForWriteIn(r *place.Root) (*Drive, error) {
	d := &Drive{Root: r.Path(), root: r}
	if err := d.loadInfo(); err != nil {
		return nil, err
	}
	if err := d.lockAndOpenJournal(); err != nil {
		return nil, err
	}
	return d, nil
}

// Create makes root an editkit drive (if it is not one already) with a new
// generated ID, and opens it for writing. label names it for people; an
// existing drive keeps its ID and takes the new label if one is given.
func Create(root, label string, now time.Time) (*Drive, error) {
	return CreateRunning(root, label, now, nil)
}

// CreateRunning is Create marking, when it makes a new drive, the run
// given as in progress (Info.Running) in the same write of drive.json as
// the identity; an existing drive's Info is as Create leaves it.
func CreateRunning(root, label string, now time.Time, run *Run) (*Drive, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	return CreateRunningIn(r, label, now, run)
}

// CreateRunningIn is CreateRunning for the drive at the command's
// placement root.
func CreateRunningIn(r *place.Root, label string, now time.Time, run *Run) (*Drive, error) {
	root := r.Path()
	if IsDrive(root) {
		d, err := OpenForWriteIn(r)
		if err != nil {
			return nil, err
		}
		if label != "" && label != d.Info.Label {
			d.Info.Label = label
			if err := d.SaveInfo(); err != nil {
				d.Close()
				return nil, err
			}
		}
		return d, nil
	}
	if err := r.MkdirAll(DirName); err != nil {
		return nil, fmt.Errorf("create %s: %w", statePath(root, ""), err)
	}
	if label == "" {
		label = filepath.Base(filepath.Clean(root))
	}
	d := &Drive{Root: root, root: r, Info: Info{
		Format:  infoFormat,
		ID:      "ek-" + fsx.RandomID(10),
		Label:   label,
		Created: now.UTC(),
		Running: run,
	}}
	if err := d.lockAndOpenJournal(); err != nil {
		return nil, err
	}
	if err := d.SaveInfo(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// stateDir opens the drive's .editkit folder from its root, never
// through a link, creating it when asked.
func (d *Drive) stateDir(create bool) (*place.Dir, error) {
	return d.root.OpenDir(DirName, create)
}

func (d *Drive) loadInfo() error {
	b, err := d.readInfo()
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", d.Root, ErrNotADrive)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &d.Info); err != nil {
		return &DamagedError{Root: d.Root, File: d.path(infoFile), What: "not JSON", Err: err}
	}
	if d.Info.Format != infoFormat {
		return fmt.Errorf("%s: format %q is not %q; a newer editkit wrote it, upgrade editkit", d.path(infoFile), d.Info.Format, infoFormat)
	}
	return nil
}

// readInfo reads drive.json, reached from the root without following a
// link.
func (d *Drive) readInfo() ([]byte, error) {
	dir, err := d.stateDir(false)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	f, err := dir.OpenFile(infoFile, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// lock takes the drive's lock, in its .editkit folder dir.
func (d *Drive) lock(dir *place.Dir) error {
	f, err := dir.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	unlock, err := fsx.LockFile(f)
	if err != nil {
		if errors.Is(err, fsx.ErrLocked) {
			return fmt.Errorf("drive %s is in use by another editkit command; wait for it to finish: %w", d.Root, err)
		}
		return err
	}
	d.unlock = unlock
	return nil
}

func (d *Drive) lockAndOpenJournal() error {
	dir, err := d.stateDir(false)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := d.lock(dir); err != nil {
		return err
	}
	maxSeq, err := d.maxSeq()
	if err != nil {
		d.Close()
		return err
	}
	d.nextSeq = maxSeq + 1
	j, err := openJournal(dir, journalFile)
	if err != nil {
		d.Close()
		return err
	}
	d.journal = j
	d.writable = true
	// An empty journal: from now on it holds exactly what Append adds.
	d.mem.journalKnown = j.empty
	return nil
}

// SaveInfo writes drive.json atomically.
func (d *Drive) SaveInfo() error {
	if !d.writable {
		return errors.New("drive opened read-only")
	}
	b, err := json.MarshalIndent(d.Info, "", "  ")
	if err != nil {
		return err
	}
	return d.root.WriteFileBytes(DirName+"/"+infoFile, append(b, '\n'), 0o644)
}

// Place is the placement root every write to the drive goes through: the
// one the command opened the drive with.
func (d *Drive) Place() *place.Root { return d.root }

// Append adds records to the journal, giving each the next seq. They are
// buffered; Sync makes them durable.
func (d *Drive) Append(recs ...Record) error {
	if !d.writable {
		return errors.New("drive opened read-only")
	}
	for i := range recs {
		if err := treepath.Validate(recs[i].Path); err != nil {
			return err
		}
		recs[i].Seq = d.nextSeq
		d.nextSeq++
		if err := d.journal.append(recs[i]); err != nil {
			d.mem.journalKnown = false
			return fmt.Errorf("journal %s: %w", d.path(journalFile), err)
		}
		d.mem.appended(recs[i], d.memLimit())
	}
	return nil
}

// LastSeq returns the seq of the newest record.
func (d *Drive) LastSeq() uint64 { return d.nextSeq - 1 }

// Sync flushes the journal and fsyncs it. It fails with place.ErrGone when
// the drive's root is no longer the folder it was at open (the journal is
// written through its open descriptor, so never into an empty mount point;
// this tells the command the drive went).
func (d *Drive) Sync() error {
	if d.journal == nil {
		return nil
	}
	if err := d.journal.sync(); err != nil {
		return fmt.Errorf("journal %s: %w", d.path(journalFile), err)
	}
	return d.root.Check()
}

// Flush writes buffered journal records to the file (no fsync): they then
// survive the process being killed, though not a power cut.
func (d *Drive) Flush() error {
	if d.journal == nil {
		return nil
	}
	return d.journal.w.Flush()
}

// Close syncs the journal and releases the lock.
func (d *Drive) Close() error {
	var errs []error
	if d.journal != nil {
		errs = append(errs, d.journal.close())
		d.journal = nil
	}
	if d.unlock != nil {
		errs = append(errs, d.unlock())
		d.unlock = nil
	}
	d.writable = false
	return errors.Join(errs...)
}
