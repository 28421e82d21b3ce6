package ui

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/units"
	"github.com/schollz/progressbar/v3"
)

// Progress shows a long operation's progress: a bar with throughput and ETA
// on a terminal, a plain line every LogInterval otherwise (cron logs stay
// readable), nothing with --quiet or --json on a non-terminal.
type Progress struct {
	t     *Terminal
	title string

	total     atomic.Int64
	done      atomic.Int64
	files     atomic.Int64
	filesDone atomic.Int64
	started   time.Time
	bar       *progressbar.ProgressBar
	stop      chan struct{}
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// Progress is what the engines report to.
var _ run.Progress = (*Progress)(nil)

// NewProgress starts reporting progress for an operation named title.
func (t *Terminal) NewProgress(title string) *Progress {
	return &Progress{t: t, title: title, stop: make(chan struct{})}
}

// Start starts showing progress, with the work known so far: bytes and
// files. Later calls do nothing; AddTotal starts it if nothing did.
func (p *Progress) Start(bytes int64, files int) {
	p.startOnce.Do(func() { p.start(bytes, files) })
}

func (p *Progress) start(bytes int64, files int) {
	p.total.Store(bytes)
	p.files.Store(int64(files))
	p.started = time.Now()
	switch {
	case p.t.Quiet && p.t.log == nil:
	case p.t.TTY:
		p.bar = progressbar.NewOptions64(bytes,
			progressbar.OptionSetWriter(p.t.Err),
			progressbar.OptionSetDescription(p.describe()),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.t.Err) }),
		)
		p.wg.Add(1)
		go p.tick(500*time.Millisecond, func() { p.bar.Describe(p.describe()) })
	default:
		p.wg.Add(1)
		go p.tick(p.t.LogInterval, func() { p.t.Infof("%s", p.Line()) })
	}
}

func (p *Progress) describe() string {
	return fmt.Sprintf("%s %d/%d files", p.title, p.filesDone.Load(), p.files.Load())
}

func (p *Progress) tick(every time.Duration, f func()) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			f()
		case <-p.stop:
			return
		}
	}
}

// AddTotal announces more work (run.Progress): the first announcement
// starts the display, unless Start did.
func (p *Progress) AddTotal(bytes int64, files int) {
	first := false
	p.startOnce.Do(func() { p.start(bytes, files); first = true })
	if first {
		return
	}
	p.total.Add(bytes)
	p.files.Add(int64(files))
	if p.bar != nil {
		p.bar.ChangeMax64(p.total.Load())
	}
}

// Add counts bytes done.
func (p *Progress) Add(n int64) {
	p.done.Add(n)
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

// FileDone counts a file done.
func (p *Progress) FileDone() { p.filesDone.Add(1) }

// Line is the plain progress line: what is done, the rate and the time left.
func (p *Progress) Line() string {
	done, total := p.done.Load(), p.total.Load()
	elapsed := time.Since(p.started)
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	eta := "–"
	if done > 0 && total > done {
		eta = units.FormatDuration(time.Duration(float64(elapsed) * float64(total-done) / float64(done)))
	}
	return fmt.Sprintf("%s: %3.0f%% %s of %s, %d of %d files, %s, ETA %s",
		p.title, pct, units.FormatBytes(done), units.FormatBytes(total),
		p.filesDone.Load(), p.files.Load(), units.FormatRate(done, elapsed), eta)
}

// Close stops the reporting.
func (p *Progress) Close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		p.wg.Wait()
		if p.bar != nil {
			p.bar.Describe(p.describe())
			p.bar.Exit()
			fmt.Fprintln(p.t.Err)
		}
	})
}
