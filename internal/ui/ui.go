// Package ui owns everything that touches the terminal, so the packages that
// do the work never do: progress bars on a terminal (and periodic plain log
// lines when output goes to a file or cron), JSON output, messages, and the
// exit codes every command shares.
package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// Exit codes, the same for every command.
const (
	ExitOK     = 0 // everything done and verified
	ExitFailed = 1 // something failed (each failure listed), or interrupted
	ExitUsage  = 2 // bad usage or configuration, or refused before starting
)

// UsageError is an error in how editkit was called or configured; it exits
// with ExitUsage. Help marks a malformed command line, where pointing at
// --help helps.
type UsageError struct {
	Err  error
	Help bool
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an exit code for a command whose problems were already
// reported in its output.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var ue *UsageError
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailed
}

// Terminal is where a command's output goes.
type Terminal struct {
	Out   io.Writer // results: the summary, or JSON with --json
	Err   io.Writer // progress, warnings, errors
	TTY   bool      // Err is a terminal: draw progress bars
	JSON  bool      // --json: machine-readable results on Out
	Quiet bool      // only problems
	// LogInterval is how often progress is logged when Err is not a terminal.
	LogInterval time.Duration

	mu      sync.Mutex
	log     io.Writer // --log: results and progress go here instead, time-stamped
	printed bool      // PrintJSON was called
}

// SetLog sends results and progress to w (a log file) instead of the
// terminal, time-stamped; warnings and errors go to both. An unattended run
// (cron, launchd) is then silent unless something fails.
func (t *Terminal) SetLog(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log = w
	t.TTY = false
}

// logLocked writes time-stamped lines to the log.
func (t *Terminal) logLocked(text string) {
	stamp := time.Now().Format("2006-01-02 15:04:05 ")
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(t.log, "%s%s\n", stamp, line)
	}
}

// Errorf reports an error: to Err, and to the log if there is one.
func (t *Terminal) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(t.Err, msg)
	if t.log != nil {
		t.logLocked(msg)
	}
}

// NewTerminal returns a Terminal on the process's stdout and stderr.
func NewTerminal() *Terminal {
	t := &Terminal{
		Out:         os.Stdout,
		Err:         os.Stderr,
		TTY:         isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd()),
		LogInterval: 5 * time.Second,
	}
	if v := os.Getenv("EDITKIT_LOG_INTERVAL"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			t.LogInterval = d
		}
	}
	return t
}

// Printf writes a result line to Out, unless --json or --quiet.
func (t *Terminal) Printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.log != nil {
		t.logLocked(fmt.Sprintf(format, args...))
		return
	}
	if t.JSON || t.Quiet {
		return
	}
	fmt.Fprintf(t.Out, format, args...)
}

// Infof writes an informational line to Err, unless --quiet.
func (t *Terminal) Infof(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.log != nil {
		t.logLocked(fmt.Sprintf(format, args...))
		return
	}
	if t.Quiet {
		return
	}
	fmt.Fprintf(t.Err, format+"\n", args...)
}

// Warnf writes a warning to Err, always.
func (t *Terminal) Warnf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	msg := fmt.Sprintf("warning: "+format, args...)
	fmt.Fprintln(t.Err, msg)
	if t.log != nil {
		t.logLocked(msg)
	}
}

// PrintedJSON reports whether a JSON result was printed: the error of a
// command that printed its result is in that result already.
func (t *Terminal) PrintedJSON() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.printed
}

// Retrying tells the user that an operation failed and will be tried again:
// "retrying (attempt 2, next in 1s): reason", on Err even with --quiet (a
// wait is never silent), or into the log with --log (an unattended run
// that rides out an outage stays quiet; one that gives up reports it).
func (t *Terminal) Retrying(attempt int, wait time.Duration, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	secs := int64((wait + time.Second - 1) / time.Second) // rounded up: "next in 0s" would be a lie
	msg := fmt.Sprintf("retrying (attempt %d, next in %ds): %s", attempt, secs, reason)
	if t.log != nil {
		t.logLocked(msg)
		return
	}
	fmt.Fprintln(t.Err, msg)
}

// PrintJSON writes v as indented JSON to Out.
func (t *Terminal) PrintJSON(v any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.printed = true
	enc := json.NewEncoder(t.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
