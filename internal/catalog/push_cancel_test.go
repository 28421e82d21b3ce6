package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// interruptingProgress interrupts a run (as Ctrl-C does) at a chosen point
// of its progress, and counts the files the run goes on to work on.
type interruptingProgress struct {
	cancel          context.CancelFunc
	atAnnouncement  bool // when the push has planned its work, before any file
	atFirstFileDone bool
	files           atomic.Int32
}

func (p *interruptingProgress) AddTotal(int64, int) {
	if p.atAnnouncement {
		p.cancel()
	}
}
func (p *interruptingProgress) Add(int64) {}
func (p *interruptingProgress) FileDone() {
	p.files.Add(1)
	if p.atFirstFileDone {
		p.cancel()
	}
}

// TestPushStopsFeedingWhenInterrupted: an interrupted push hands no further
// file to its workers, as pull, restore, copy and verify do; the workers
// finish (and count) only the files they held. It used to go on handing
// every remaining file out.
func TestPushStopsFeedingWhenInterrupted(t *testing.T) {
	const files, jobs = 1000, 8
	src := t.TempDir()
	for i := range files {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("SFX_%03d.wav", i)), []byte(fmt.Sprintf("sound %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		progress  *interruptingProgress
		mostFiles int32
	}{
		{"before the first file", &interruptingProgress{atAnnouncement: true}, 0},
		{"at the end of the first file", &interruptingProgress{atFirstFileDone: true}, jobs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local, err := backend.OpenLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			progress := tc.progress
			progress.cancel = cancel
			res, err := Push(ctx, contenthub.New(local), PushOptions{Paths: []string{src}, DestPath: "SFX", Category: "sfx", Jobs: jobs, Env: run.Env{Progress: progress}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted push: %v, want context.Canceled", err)
			}
			if res == nil || len(res.Events) != 0 {
				t.Fatalf("an interrupted push records events: %+v", res)
			}
			if n := progress.files.Load(); n > tc.mostFiles {
				t.Fatalf("the push went on to %d files after it was interrupted (%d files, %d at once; want at most %d)", n, files, jobs, tc.mostFiles)
			}
		})
	}
}
