// Package run owns what every engine (copy, verify, backup, restore, prune,
// hub check, push, pull) is given about the run it is part of, and how it
// spreads files over goroutines: Env carries the clock, who and where the
// run is, the tool that records it and where its progress goes, built once
// by the command line; Pool is the one bounded worker pool, with one
// cancellation rule for every engine.
package run

import (
	"io"
	"time"
)

// Progress receives a run's progress. Engines report to it and never print;
// the terminal's implementation is ui.Progress. Implementations must be
// safe for concurrent use.
type Progress interface {
	// AddTotal announces more work: bytes to process and files to finish.
	// An engine that knows its work up front announces it once.
	AddTotal(bytes int64, files int)
	// Add reports bytes of work done.
	Add(bytes int64)
	// FileDone reports a file finished, whatever became of it.
	FileDone()
}

// Env is what an engine is told about the run it is part of.
type Env struct {
	Now           func() time.Time // the clock (tests give a fake one)
	Host, User    string           // who runs it, where: recorded in events, reports and ASC MHL generations
	Tool, Version string           // what runs it: recorded in reports and ASC MHL generations
	Progress      Progress
}

// WithDefaults returns e with what was left empty filled in: the real
// clock, "editkit" as the tool, and a Progress that discards, so engines
// never check for nil.
func (e Env) WithDefaults() Env {
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Tool == "" {
		e.Tool = "editkit"
	}
	if e.Progress == nil {
		e.Progress = discard{}
	}
	return e
}

// discard is the Progress of a run nobody watches.
type discard struct{}

func (discard) AddTotal(int64, int) {}
func (discard) Add(int64)           {}
func (discard) FileDone()           {}

// ProgressWriter counts the bytes written through it as work done: put it
// beside a download's destination with io.MultiWriter.
func ProgressWriter(p Progress) io.Writer { return progressWriter{p} }

type progressWriter struct{ p Progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.Add(int64(len(b)))
	return len(b), nil
}
