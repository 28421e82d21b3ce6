package offload

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
	"golang.org/x/text/unicode/norm"
)

// dest is one destination during a run.
type dest struct {
	arg   string // as the user named it
	root  string // absolute
	label string
	res   *DestResult
	space fsx.Space
	dev   uint64
	place *place.Root  // every file, folder and temporary file goes through it
	batch *place.Batch // small files are synced, read back and renamed in groups
	// groupChecked says the drive was found still there since the last
	// group of small files was placed (see stillThereInGroup).
	groupChecked atomic.Bool

	// tempBytes is what the temporary files of a killed run occupy: they
	// are removed before copying, so they do not count against the room.
	tempBytes int64

	// need is what preflight found this destination lacks.
	needBytes int64
	needFiles int

	mu        sync.Mutex // guards everything below
	drive     *manifest.Drive
	brokenErr error
	lastSync  time.Time
	// unflushed are the records appended since the journal was last
	// written out (a group's, written together: see flushGroup).
	unflushed []string
	firstSeq  uint64 // first record seq of this run
	// mhlFiles are the files this run's ASC MHL generation records with
	// hashes of their own: files a source history records (checked
	// against it) and damaged ones kept out of the manifest.
	mhlFiles map[string]manifest.MHLFile
	// refusedDirs are folders no file may go into, and why: the drive
	// holds another folder under a name it confuses with this one (case,
	// Unicode form), or the name cannot be recorded. Anything placed there
	// would sit on the drive under a name no record has.
	refusedDirs map[string]error
	// dirNames caches the listings of folders whose sub-folders were
	// already on the drive, to tell whether they hold exactly our names.
	dirNames map[string]map[string]bool
}

func (d *dest) addMHLFile(f manifest.MHLFile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mhlFiles == nil {
		d.mhlFiles = make(map[string]manifest.MHLFile)
	}
	d.mhlFiles[f.Path] = f
}

func (c *copier) openDests() error {
	var problems []string
	for i, arg := range c.opts.Dests {
		root, _ := filepath.Abs(arg)
		root, _ = filepath.EvalSymlinks(root)
		d := &dest{arg: arg, root: root, res: &DestResult{Root: arg}}
		if i < len(c.opts.Labels) {
			d.label = c.opts.Labels[i]
		}
		var err error
		if d.place, err = place.Open(root, c.opts.Hooks); err != nil {
			problems = append(problems, fmt.Sprintf("destination %s: %v", arg, err))
			continue
		}
		d.batch = d.place.NewBatch(copyBatchFiles)
		d.batch.LimitBytes(copyBatchBytes)
		d.batch.AfterGroup(d.flushGroup)
		if d.space, err = fsx.FreeSpace(root); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if d.dev, err = fsx.DeviceID(root); err != nil {
			problems = append(problems, fmt.Sprintf("destination %s: %v", arg, err))
			continue
		}
		if manifest.IsDrive(root) {
			drv, err := manifest.OpenForWriteIn(d.place)
			if err != nil {
				problems = append(problems, fmt.Sprintf("destination %s: %v", arg, err))
				continue
			}
			d.drive = drv
			// Fold the journal of an interrupted run into the manifest,
			// so the walk below can be merged with it as a stream.
			if err := drv.Compact(); err != nil {
				problems = append(problems, fmt.Sprintf("destination %s: updating its manifest: %v", arg, err))
			}
			d.res.DriveID, d.res.Label = drv.Info.ID, drv.Info.Label
			if drv.Info.Running != nil {
				// A killed run's temporary files are editkit's own:
				// prepareDests removes them, so their room is free.
				if _, n, err := d.place.Temps(tempSkip...); err == nil {
					d.tempBytes = n
				}
			}
		}
		c.dests = append(c.dests, d)
		c.res.Destinations = append(c.res.Destinations, d.res)
	}
	if len(problems) > 0 {
		c.closeDests()
		return &PreflightError{Problems: problems}
	}
	return nil
}

func (c *copier) closeDests() {
	for _, d := range c.dests {
		d.mu.Lock()
		if d.drive != nil {
			d.drive.Close()
			d.drive = nil
		}
		d.mu.Unlock()
	}
}

// prepareDests makes every destination an editkit drive, marks the run as
// in progress and removes temporary files an earlier, killed run left.
func (c *copier) prepareDests() error {
	now := c.opts.Now()
	var problems []string
	for _, d := range c.dests {
		run := &manifest.Run{Command: "copy", Started: now, Host: c.opts.Host, PID: os.Getpid()}
		if d.drive == nil {
			// A new drive's identity is written with the run's mark.
			drv, err := manifest.CreateRunningIn(d.place, d.label, now, run)
			if err != nil {
				problems = append(problems, fmt.Sprintf("destination %s: %v", d.arg, err))
				continue
			}
			d.drive = drv
		} else if d.label != "" && d.label != d.drive.Info.Label {
			d.drive.Info.Label = d.label
		}
		if info := &d.drive.Info; info.Running != run {
			if info.Running != nil {
				if err := d.removeTemps(); err != nil {
					problems = append(problems, fmt.Sprintf("destination %s: cleaning up after the interrupted %s of %s: %v",
						d.arg, info.Running.Command, info.Running.Started.Format(time.RFC3339), err))
					continue
				}
			}
			info.Running = run
			if err := d.drive.SaveInfo(); err != nil {
				problems = append(problems, fmt.Sprintf("destination %s: %v", d.arg, err))
				continue
			}
		}
		d.firstSeq = d.drive.LastSeq() + 1
		d.res.DriveID, d.res.Label = d.drive.Info.ID, d.drive.Info.Label
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

// copyBatchFiles and copyBatchBytes bound the small files a destination
// places at once: enough that a tree of tiny files costs a sync and a
// folder sync per few hundred files, few enough that the open temporary
// files (a descriptor each, and one per folder) stay well within limits
// (macOS gives a process 10 240), and that a group's sync waits for at
// most a few seconds of a slow drive's writing.
const (
	copyBatchFiles = 512
	copyBatchBytes = 32 << 20
)

// tempSkip are the folders of a drive that never hold a copied file's
// temporary file (editkit's own files and ASC MHL histories).
var tempSkip = []string{manifest.DirName, "ascmhl"}

// removeTemps deletes the temporary files of an interrupted run.
func (d *dest) removeTemps() error { return d.place.RemoveTemps(tempSkip...) }

// path returns the absolute destination path of a tree path.
func (d *dest) path(rel string) string {
	return filepath.Join(d.root, filepath.FromSlash(rel))
}

// TempName is the name a file called name is written under until it is
// verified (see walk.TempName).
func TempName(name string) string { return walk.TempName(name) }

func (d *dest) broken() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.brokenErr
}

// failFile records a file that could not be written here. Errors that mean
// the whole destination is unusable (full, gone, read-only, failing) stop
// all further writes to it.
func (d *dest) failFile(rel string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failFileLocked(rel, err)
}

func (d *dest) failFileLocked(rel string, err error) {
	d.res.Failed = append(d.res.Failed, FileError{Path: rel, Err: err.Error()})
	if d.brokenErr == nil && fatalForDest(err) {
		if gone := d.stillThere(); gone != nil && !errors.Is(err, place.ErrGone) {
			// An I/O error because the drive was unplugged: say so.
			err = fmt.Errorf("%w (%v)", gone, err)
		}
		d.brokenErr = err
		d.res.Error = destErrorText(d, err)
	}
}

func fatalForDest(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS, syscall.ENODEV, syscall.ENXIO, place.ErrGone} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, syscall.Errno(107)) // ENOTCONN: a FUSE drive whose daemon died
}

func destErrorText(d *dest, err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Sprintf("%s is full: %v; free space on it (or use a bigger drive) and run the same command again to resume", d.arg, err)
	case errors.Is(err, place.ErrGone):
		// The error names the absolute path and the I/O error that revealed
		// it; the files it hit are listed with theirs.
		return fmt.Sprintf("%s was disconnected (it is no longer the drive it was when the copy started); reconnect it and run the same command again to resume", d.arg)
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return fmt.Sprintf("%s: %v; reconnect it and run the same command again to resume", d.arg, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Sprintf("%s became read-only (the OS does this when a drive has errors): %v; check the drive", d.arg, err)
	}
	return fmt.Sprintf("%s failed: %v; check the drive, then run the same command again to resume", d.arg, err)
}

// mkdirs creates a folder and its missing parents below the destination's
// root, never the root itself and never through a link (see place), after checking the
// drive is still the one the copy started on.
//
// A folder that was already there must have exactly this name: on a drive
// that confuses names differing in case or Unicode form ("Clips" and
// "clips"), the files of the second would otherwise land in the first, on
// the drive under names no record has. Such a folder, or one whose name an
// ASC MHL history cannot record, is refused, and so is everything in it.
func (d *dest) mkdirs(rel string) error {
	if err := d.stillThere(); err != nil {
		return err
	}
	if rel == "" {
		return nil
	}
	if err := d.refused(treepath.Parent(rel)); err != nil {
		return d.refuse(rel, fmt.Errorf("%s was not created, its folder was refused: %w", d.path(rel), err))
	}
	if err := mhl.Recordable(rel); err != nil {
		return d.refuse(rel, fmt.Errorf("%s was not created: %w; rename it at the source and run the same command again", d.path(rel), err))
	}
	_, statErr := d.place.Lstat(rel)
	if err := d.place.MkdirAll(rel); err != nil {
		return err
	}
	parent, base := treepath.Parent(rel), treepath.Base(rel)
	d.mu.Lock()
	defer d.mu.Unlock()
	names := d.dirNames[parent]
	if statErr != nil {
		if names != nil {
			names[base] = true // created now, under exactly this name
		}
		return nil
	}
	if names == nil {
		des, err := os.ReadDir(d.path(parent))
		if err != nil {
			return err
		}
		names = make(map[string]bool, len(des))
		for _, de := range des {
			names[de.Name()] = true
		}
		if d.dirNames == nil {
			d.dirNames = map[string]map[string]bool{}
		}
		d.dirNames[parent] = names
	}
	if names[base] {
		return nil
	}
	existing := "a folder with a similar name"
	for n := range names {
		if strings.EqualFold(norm.NFC.String(n), norm.NFC.String(base)) {
			existing = n
		}
	}
	return d.refuseLocked(rel, &place.CollisionError{Path: d.path(rel), Existing: existing})
}

// canHold returns why a file may not be placed at rel: its folder was
// refused, or an ASC MHL history cannot record its name (it would be on
// the drive, unrecorded, and the drive's generation could not be written).
func (d *dest) canHold(rel string) error {
	if err := d.refused(treepath.Parent(rel)); err != nil {
		return fmt.Errorf("%s was not written, its folder was refused: %w", d.path(rel), err)
	}
	if err := mhl.Recordable(rel); err != nil {
		return fmt.Errorf("%s was not written: %w; rename it at the source and run the same command again", d.path(rel), err)
	}
	return nil
}

// refused returns why nothing may go into the folder dir: it, or a folder
// above it, was refused.
func (d *dest) refused(dir string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := dir; p != ""; p = treepath.Parent(p) {
		if err, ok := d.refusedDirs[p]; ok {
			return err
		}
	}
	return nil
}

func (d *dest) refuse(rel string, err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refuseLocked(rel, err)
}

func (d *dest) refuseLocked(rel string, err error) error {
	if d.refusedDirs == nil {
		d.refusedDirs = map[string]error{}
	}
	d.refusedDirs[rel] = err
	return err
}

// stillThere catches a drive that was unplugged: its mount point then
// belongs to another file system, and writing there would fill the wrong
// disk (every walk of the placement path checks this as well; this asks
// before a file is read for the drive, and names the cause of an I/O error).
func (d *dest) stillThere() error { return d.place.Check() }

// stillThereInGroup is stillThere once per group of small files rather
// than once per file: a drive unplugged meanwhile fails the group's sync,
// read-back or renames with an I/O error, which failFile then reports as
// the drive gone, and the next group's first file is checked before any
// of it is written.
func (d *dest) stillThereInGroup() error {
	if d.groupChecked.Load() {
		return nil
	}
	if err := d.stillThere(); err != nil {
		return err
	}
	d.groupChecked.Store(true)
	return nil
}

// record adds a completed file or folder to the manifest journal; the
// journal is flushed at once (a killed process loses nothing) and fsynced
// every couple of seconds (a power cut costs at most a re-copy).
func (d *dest) record(r manifest.Record, copied bool) error {
	return d.appendRecord(r, copied, true)
}

// appendRecord is record; without flush, the record is written out with
// the rest of its group's by flushGroup (one write instead of one per
// file; a kill before it leaves placed files the next run finds
// unrecorded, as a kill just after a rename always could).
func (d *dest) appendRecord(r manifest.Record, copied, flush bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.drive.Append(r); err != nil {
		return err
	}
	if copied {
		d.res.Copied++
		d.res.CopiedBytes += r.Size
	}
	if !r.Dir && r.Verified != 0 {
		d.res.Verified++
	}
	if !flush {
		d.unflushed = append(d.unflushed, r.Path)
		return nil
	}
	return d.flushJournalLocked()
}

// flushGroup writes out the records of a group of small files; if that
// fails, each of them has failed.
func (d *dest) flushGroup() {
	d.groupChecked.Store(false)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.unflushed) == 0 {
		return
	}
	paths := slices.Clone(d.unflushed)
	if err := d.flushJournalLocked(); err != nil {
		for _, p := range paths {
			d.failFileLocked(p, err)
		}
	}
}

// flushJournalLocked writes out the journal (a killed process loses
// nothing) and fsyncs it every couple of seconds (a power cut costs at
// most a re-copy).
func (d *dest) flushJournalLocked() error {
	d.unflushed = d.unflushed[:0]
	if time.Since(d.lastSync) > 2*time.Second {
		d.lastSync = time.Now()
		return d.drive.Sync()
	}
	return d.drive.Flush()
}

func (d *dest) alreadyThere() {
	d.mu.Lock()
	d.res.AlreadyThere++
	d.mu.Unlock()
}
