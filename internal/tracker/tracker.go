package tracker

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"time"

	"github.com/editkit/editkit/internal/event"
)

// Tracker is the shared record of what changed, as the team reads it.
// Both the Google Sheets tracker and the local CSV tracker implement it.
type Tracker interface {
	// Init creates the tabs (or files) and their header rows, or adopts
	// existing ones: missing tabs and columns are added, nothing that is
	// there is removed or reordered. Running it again changes nothing.
	Init(ctx context.Context) error
	// Record accepts events into the durable outbox and then tries to send
	// everything waiting there. Once Record returns a nil error the events
	// are safe: they reach the tracker exactly once, now or on a later
	// Record or Sync, even across a crash. When the tracker cannot be
	// reached the Result says so (Result.NotSent); that is a warning for
	// the user, not a failure of the command. The error is non-nil only
	// when the events could not be accepted at all (invalid event, outbox
	// not writable); then nothing was recorded.
	Record(ctx context.Context, events []event.Event) (Result, error)
	// Sync sends whatever waits in the outbox. Commands call it before
	// they exit when Record deferred sending (Result.Deferred).
	Sync(ctx context.Context) (Result, error)
	// Rebuild rewrites the derived tabs (Media, Drives, Backups) from the
	// full event log and adds to the Log any event missing from it, for
	// when someone edited the tracker by hand. all must yield the whole
	// log (the hub's), oldest first.
	Rebuild(ctx context.Context, all iter.Seq[event.Event]) error
}

// Result tells the caller what happened to its events.
type Result struct {
	// Accepted is how many events this call took into the outbox.
	Accepted int
	// Sent is how many events reached the tracker during this call,
	// including ones that had waited in the outbox from earlier calls.
	Sent int
	// AlreadyThere is how many waiting events were found in the tracker
	// already (an earlier attempt had written them before it lost its
	// connection) and so were not written again.
	AlreadyThere int
	// Pending is how many events still wait in the outbox.
	Pending int
	// Deferred is true when Record did not try to send because it sent a
	// moment ago: per-file callers are coalesced into few requests. Call
	// Sync before exiting.
	Deferred bool
	// NotSent is why Pending events were not sent, nil otherwise: a
	// *NotSentError, whose message tells the user what to do.
	NotSent error
	// Warnings are things the user should know that did not stop the
	// events (a duplicate row someone edited, an unreadable outbox file
	// put aside…).
	Warnings []string
}

// Queued reports whether events wait in the outbox after this call.
func (r Result) Queued() bool { return r.Pending > 0 }

// NotSentError explains why events wait in the outbox instead of being in
// the tracker. The events are safe; the user may need to act (share the
// sheet, log in again) before they can go out.
type NotSentError struct {
	Pending int    // events waiting
	Outbox  string // where they wait
	Reason  string // what went wrong, for people
	Hint    string // what to do about it
	Err     error  // the underlying error
	// Temporary is true when simply trying later should work (network,
	// quota, server errors); false when the user must fix something.
	Temporary bool
}

func (e *NotSentError) Error() string {
	msg := fmt.Sprintf("%d tracker event(s) not sent yet: %s", e.Pending, e.Reason)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	if e.Outbox != "" {
		msg += fmt.Sprintf(" (they wait in %s and go out with the next editkit command or `editkit tracker sync`)", e.Outbox)
	}
	return msg
}

func (e *NotSentError) Unwrap() error { return e.Err }

// ErrNotConfigured is returned by New when neither a spreadsheet nor a CSV
// folder is configured.
var ErrNotConfigured = errors.New("no tracker configured: give a Google spreadsheet (ID or URL) or a folder for the CSV tracker")

// Config selects and tunes a tracker. With Spreadsheet empty, the CSV
// tracker in CSVDir is used.
type Config struct {
	// Spreadsheet is the Google Sheet's ID or its URL
	// (https://docs.google.com/spreadsheets/d/<ID>/edit#gid=0).
	Spreadsheet string
	// CredentialsFile is a service-account JSON key (the CLI's
	// --google-credentials). Empty: the token from TokenFile if that file
	// exists, else Google application default credentials
	// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, the metadata server).
	CredentialsFile string
	// TokenFile holds the token saved by Login; OAuthClient is needed to
	// refresh it.
	TokenFile   string
	OAuthClient OAuthClient
	// Endpoint overrides the Sheets API base URL (EDITKIT_SHEETS_ENDPOINT):
	// a private endpoint, or a fake in tests.
	Endpoint string
	// Transport is the HTTP transport under authentication; default a
	// clone of http.DefaultTransport (honouring proxy settings).
	Transport http.RoundTripper

	// CSVDir is the folder of the local CSV tracker.
	CSVDir string

	// OutboxDir is the outbox (internal/outbox) where events wait until
	// they are sent, e.g. ~/.local/state/editkit/outbox: the one the
	// hub's event log is delivered from too. Without it, an event that
	// cannot be sent makes Record fail instead of being queued.
	OutboxDir string
	// OutboxHook, if set, hears each step of a delivery from the outbox
	// (see outbox.Open): the end-to-end tests kill the process there.
	OutboxHook func(step string)

	// Clock drives pacing, back-off and flush intervals; tests speed it
	// up. Default: the real clock.
	Clock Clock
	// WritesPerMinute and ReadsPerMinute cap this process's Sheets
	// requests. Google allows 60 of each per minute per user (and 300 per
	// project); the default, 50, leaves room for a second editkit of the
	// same user. Negative: no pacing (tests of the back-off).
	WritesPerMinute int
	ReadsPerMinute  int
	// RowsPerRequest is how many rows one append carries; default 1000
	// (a few hundred KB, well inside the API's request size).
	RowsPerRequest int
	// MinFlushInterval: Record sends at most this often and otherwise only
	// queues, so a command that records file by file makes a handful of
	// requests, not thousands. Default 10s; negative: Record always
	// sends. Sync always sends.
	MinFlushInterval time.Duration
	// RequestTimeout bounds one HTTP request; default 60s. A request that
	// times out may still have been applied: the tracker finds out by
	// reading before it writes again.
	RequestTimeout time.Duration
	// RetryFor is how long one Record or Sync keeps retrying after
	// quota and server errors before leaving the events queued; default 2
	// minutes. Network failures (offline) give up after a few quick tries.
	RetryFor time.Duration
	// LockWait is how long Sync waits for another editkit on this machine
	// that is sending the same outbox; default 30s.
	LockWait time.Duration
	// Location is the time zone of times in the CSV tracker; default the
	// machine's. The Sheets tracker uses the spreadsheet's own time zone.
	Location *time.Location
	// Logger receives progress and retry messages; default discards.
	Logger *slog.Logger
	// OnRetry, if set, hears of each retry of a Sheets request before its
	// wait (attempt: the number of the attempt that follows), so that the
	// command can say why it is waiting; this package prints nothing.
	OnRetry func(attempt int, wait time.Duration, reason string)
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = RealClock()
	}
	if c.WritesPerMinute == 0 {
		c.WritesPerMinute = 50
	}
	if c.ReadsPerMinute == 0 {
		c.ReadsPerMinute = 50
	}
	if c.RowsPerRequest <= 0 {
		c.RowsPerRequest = 1000
	}
	if c.MinFlushInterval == 0 {
		c.MinFlushInterval = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 2 * time.Minute
	}
	if c.LockWait <= 0 {
		c.LockWait = 30 * time.Second
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// New returns the tracker the configuration names: Google Sheets when
// Spreadsheet is set, else the CSV tracker in CSVDir. It does not touch the
// network; credentials are checked when they are first needed, so a
// command can still record (into the outbox) while offline.
func New(ctx context.Context, cfg Config) (Tracker, error) {
	cfg.setDefaults()
	var s sink
	switch {
	case cfg.Spreadsheet != "":
		id, err := ParseSpreadsheetID(cfg.Spreadsheet)
		if err != nil {
			return nil, err
		}
		ss, err := newSheetsSink(ctx, cfg, id)
		if err != nil {
			return nil, err
		}
		s = ss
	case cfg.CSVDir != "":
		s = newCSVSink(cfg)
	default:
		return nil, ErrNotConfigured
	}
	return newEngine(cfg, s)
}
