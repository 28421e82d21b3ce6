package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
)

// protect makes sure every blob of the file list at path that a prune
// marked, announced for deletion or a repair removed is in the hub,
// uploading again from the file what is gone. After the commit (after is
// set) it first waits for the announced deletions naming those blobs to
// end. See the protocol in package contenthub (gc.go).
func (b *backer) protect(ctx context.Context, path string, roots []string, after bool) error {
	risk, err := b.h.AtRisk(ctx)
	if err != nil {
		return err
	}
	// What was at risk at the start (or before the commit) still is: a
	// prune may have deleted a marked blob and rewritten its lists since.
	risk = risk.Union(b.risk)
	b.risk = risk
	if len(risk.Blobs) == 0 && !risk.All {
		return nil
	}
	need := map[string]contenthub.Entry{}
	for e, err := range contenthub.EntriesFile(path) {
		if err != nil {
			return fmt.Errorf("re-reading the snapshot's file list: %w", err)
		}
		if !e.Dir && risk.Has(e.B3) {
			if _, ok := need[e.B3]; !ok {
				need[e.B3] = e
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	if after {
		blobs := map[string]bool{}
		for b3 := range need {
			blobs[b3] = true
		}
		sleep := b.o.Sleep
		if sleep == nil {
			sleep = contenthub.Sleep
		}
		waitSleep := func(ctx context.Context, d time.Duration) error {
			b.o.hook("wait")
			return sleep(ctx, d)
		}
		err := b.h.WaitDeletions(ctx, risk, blobs, b.o.Host, b.o.Now, waitSleep, func(d *contenthub.Deletion) {
			b.o.note("waiting for a prune (%s on %s, started %s) to finish deleting blobs this backup uses; it stops deleting by %s at the latest, then this backup checks them and uploads again what is gone",
				d.User, d.Host, d.Started.Local().Format("15:04:05"), d.Deadline.Add(contenthub.DeletionSkew).Local().Format("15:04:05"))
		})
		if err != nil {
			return err
		}
	}
	// Asked of the storage, not of the index this run loaded: a prune may
	// have repacked or removed them since.
	if err := b.h.ReloadIndex(ctx); err != nil {
		return err
	}
	var lost []string
	for b3, e := range need {
		has, err := b.h.BlobStored(ctx, b3)
		if err != nil {
			return err
		}
		if has {
			continue
		}
		file := filepath.Join(roots[e.Root], filepath.FromSlash(e.Path))
		if err := b.reupload(ctx, file, e); err != nil {
			lost = append(lost, fmt.Sprintf("%s (%v)", file, err))
			continue
		}
		b.o.note("%s: its content had been removed from the hub (by a prune or a repair); uploaded it again", file)
	}
	if err := b.w.Flush(ctx); err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("the hub no longer holds the content of %d files this backup relies on, and it could not be uploaded again: %s; run the backup again (changed files are then read afresh)",
			len(lost), strings.Join(lost, "; "))
	}
	return nil
}

// reupload uploads a file again as blob e.B3, after checking it is still
// the file the snapshot describes and hashes to e.B3.
func (b *backer) reupload(ctx context.Context, path string, e contenthub.Entry) error {
	if !sameFile(path, e) {
		return errors.New("it changed or is gone since it was read")
	}
	sum, err := hashing.HashFile(ctx, path, hashing.FileOptions{BLAKE3: true})
	if err != nil {
		return err
	}
	if sum.BLAKE3Hex() != e.B3 {
		return errors.New("its content is no longer what the snapshot says")
	}
	uploaded, err := b.w.Put(ctx, e.B3, path)
	if err != nil {
		return err
	}
	if uploaded && !sameFile(path, e) {
		if e.Size >= contenthub.PackThreshold {
			b.h.DeleteBlob(ctx, e.B3)
		}
		return errors.New("it changed while it was being uploaded")
	}
	if uploaded {
		b.mu.Lock()
		b.res.Uploaded += e.Size
		b.res.Blobs++
		b.mu.Unlock()
	}
	return nil
}

// scratchDir makes a private folder under dir for one run's temporary
// files, and removes those of earlier runs that ended without cleaning up
// (killed): a folder whose lock nobody holds.
func scratchDir(dir string) (string, func(), error) {
	base := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, err
	}
	if old, err := os.ReadDir(base); err == nil {
		for _, d := range old {
			p := filepath.Join(base, d.Name())
			if !d.IsDir() {
				continue
			}
			if strings.HasPrefix(d.Name(), ".new-") {
				// Killed between making and naming it: gone after an hour.
				if fi, err := d.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
					os.RemoveAll(p)
				}
				continue
			}
			if !strings.HasPrefix(d.Name(), "run-") {
				continue
			}
			unlock, err := fsx.Lock(filepath.Join(p, "lock"))
			if err != nil {
				continue // in use by a running editkit
			}
			os.RemoveAll(p)
			unlock()
		}
	}
	// Locked before it gets its "run-" name, so no other run's clean-up
	// can take it for a leftover.
	p, err := os.MkdirTemp(base, ".new-")
	if err != nil {
		return "", nil, err
	}
	unlock, err := fsx.Lock(filepath.Join(p, "lock"))
	if err != nil {
		os.RemoveAll(p)
		return "", nil, err
	}
	final := filepath.Join(base, "run-"+strings.TrimPrefix(filepath.Base(p), ".new-"))
	if err := os.Rename(p, final); err != nil {
		os.RemoveAll(p)
		unlock()
		return "", nil, err
	}
	return final, func() {
		os.RemoveAll(final)
		unlock()
	}, nil
}
