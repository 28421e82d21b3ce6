package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/walk"
)

// WatchOptions configure a hot folder.
type WatchOptions struct {
	Folder   string
	Push     PushOptions   // Category, Note, DestPath and the run's Env; Paths is ignored
	Interval time.Duration // between looks at the folder; 0: 5 s
	// Settle is how long a file's size and mtime must stay the same before
	// it counts as complete; 0: 15 s.
	Settle   time.Duration
	StateDir string // remembers what was pushed, across restarts
	// Pushed is called after each push, to report it (the push has
	// recorded its events already).
	Pushed func(res *PushResult)
	// Problem is told about failures; the watch goes on.
	Problem func(err error)
	// Looks replaces the ticker that paces the looks at the folder (tests
	// drive a watch with it and a fake clock in Push.Now); nil: every
	// Interval.
	Looks <-chan time.Time
}

// watched is what the watch knows of a file.
type watched struct {
	Size   int64     `json:"size"`
	MTime  int64     `json:"mtime"`
	Stable time.Time `json:"-"` // when size and mtime were first seen as they are
	Done   bool      `json:"done"`
}

// Watch pushes files that appear in a folder once they have stopped
// growing, until ctx ends. A file being written is never pushed: it must
// keep the same size and mtime for Settle across several looks. When the
// hub is unreachable the watch keeps going and tries again at the next
// look; nothing it saw is lost, and what it pushed is remembered across
// restarts.
func Watch(ctx context.Context, h *contenthub.Hub, o WatchOptions) error {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 15 * time.Second
	}
	folder, err := filepath.Abs(o.Folder)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(folder); err != nil || !fi.IsDir() {
		return fmt.Errorf("watch folder %s is not a folder", o.Folder)
	}
	memory := filepath.Join(o.StateDir, fmt.Sprintf("watch-%x.json", hashing.SumBLAKE3([]byte(folder))))
	files := map[string]*watched{}
	if data, err := os.ReadFile(memory); err == nil {
		json.Unmarshal(data, &files)
	}
	save := func() {
		if data, err := json.Marshal(files); err == nil {
			os.MkdirAll(o.StateDir, 0o700)
			fsx.WriteFileAtomic(memory, data, 0o600)
		}
	}
	o.Push.Env = o.Push.Env.WithDefaults()
	clock := o.Push.Now
	looks := o.Looks
	if looks == nil {
		tick := time.NewTicker(o.Interval)
		defer tick.Stop()
		looks = tick.C
	}
	for {
		now := clock()
		seen := map[string]bool{}
		var ready []string
		walk.Walk(ctx, folder, walk.Rules{}, walk.Visitor{
			File: func(e walk.Entry) error {
				if looksPartial(e.Path) {
					return nil
				}
				seen[e.Path] = true
				w, ok := files[e.Path]
				switch {
				case !ok || w.Size != e.Size || w.MTime != e.ModTime.UnixNano():
					files[e.Path] = &watched{Size: e.Size, MTime: e.ModTime.UnixNano(), Stable: now}
				case w.Done:
				case w.Stable.IsZero():
					w.Stable = now // remembered from an earlier run: settle again
				case now.Sub(w.Stable) >= o.Settle && now.Sub(e.ModTime) >= o.Settle:
					ready = append(ready, e.Path)
				}
				return nil
			},
		})
		for p := range files {
			if !seen[p] {
				delete(files, p)
			}
		}
		if len(ready) > 0 {
			po := o.Push
			po.Paths = nil
			for _, p := range ready {
				po.Paths = append(po.Paths, filepath.Join(folder, filepath.FromSlash(p)))
			}
			po.DestPath = o.Push.DestPath
			res, err := pushWatched(ctx, h, po, folder, ready)
			if err != nil {
				if o.Problem != nil && ctx.Err() == nil {
					o.Problem(fmt.Errorf("push from %s failed, will try again: %w", o.Folder, err))
				}
			} else {
				for _, it := range res.Items {
					rel := it.Source
					if r, err := filepath.Rel(folder, it.Source); err == nil {
						rel = filepath.ToSlash(r)
					}
					if w := files[rel]; w != nil && it.Status != "failed" {
						w.Done = true
					}
				}
				if o.Pushed != nil {
					o.Pushed(res)
				}
			}
			save()
		}
		select {
		case <-ctx.Done():
			save()
			return nil
		case <-looks:
		}
	}
}

// pushWatched pushes files of the hot folder, each to DestPath plus its
// path below the folder.
func pushWatched(ctx context.Context, h *contenthub.Hub, o PushOptions, folder string, rels []string) (*PushResult, error) {
	all := &PushResult{}
	dest := strings.Trim(o.DestPath, "/")
	if dest == "" {
		// No destination: each file's place under the media root decides.
		o.Paths = nil
		for _, r := range rels {
			o.Paths = append(o.Paths, filepath.Join(folder, filepath.FromSlash(r)))
		}
		return Push(ctx, h, o)
	}
	// Group by sub-folder so each keeps its place under DestPath.
	byDir := map[string][]string{}
	for _, r := range rels {
		dir := filepath.Dir(filepath.FromSlash(r))
		byDir[dir] = append(byDir[dir], filepath.Join(folder, filepath.FromSlash(r)))
	}
	for dir, paths := range byDir {
		po := o
		po.Paths = paths
		po.DestPath = dest
		if dir != "." {
			po.DestPath = strings.Trim(dest+"/"+filepath.ToSlash(dir), "/")
		}
		res, err := Push(ctx, h, po)
		if err != nil {
			return nil, err
		}
		all.Items = append(all.Items, res.Items...)
		all.Events = append(all.Events, res.Events...)
		all.Pushed += res.Pushed
		all.Uploaded += res.Uploaded
		all.risk = res.risk.Union(all.risk)
	}
	return all, nil
}

// looksPartial recognises files that applications write under a temporary
// name before renaming them (downloads, renders, copies in progress).
func looksPartial(rel string) bool {
	name := strings.ToLower(filepath.Base(rel))
	for _, suf := range []string{".part", ".partial", ".tmp", ".crdownload", ".download", ".!qb", ".filepart"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return strings.HasPrefix(name, "~$") || strings.HasPrefix(name, ".~")
}
