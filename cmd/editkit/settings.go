package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

// hubFlags are the flags of every command that talks to the hub.
type hubFlags struct {
	url        string
	s3Endpoint string
	bwlimit    string
	retryFor   string
	// unattended: the nightly backup, run by cron or launchd, which may
	// wait out a longer outage than someone at a terminal would.
	unattended bool
	// encrypting: hub init --encrypt, which may be finishing an
	// encryption that others must wait for.
	encrypting bool
}

// How long a hub operation keeps retrying by default before the command
// gives up: someone is waiting at a terminal, or it is the nightly backup.
const (
	interactiveRetryFor = 2 * time.Minute
	unattendedRetryFor  = 15 * time.Minute
)

func (f *hubFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "hub", "", "the hub: s3://BUCKET/PREFIX or a folder (default: $EDITKIT_HUB, else hub in the settings file)")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3 endpoint URL for stores other than AWS (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else s3_endpoint in the settings file)")
	fl.StringVar(&f.bwlimit, "bwlimit", "", "cap hub transfers: 12Mbit, 2MB/s (default: $EDITKIT_BWLIMIT, else bwlimit in the settings file)")
	f.unattended = cmd.Name() == "backup"
	def, key := interactiveRetryFor, "retry_for"
	if f.unattended {
		def, key = unattendedRetryFor, "[backup] retry_for"
	}
	fl.StringVar(&f.retryFor, "retry-for", "", fmt.Sprintf("when the hub cannot be reached, keep retrying this long before giving up: 30s, 10m, 1h (default: $EDITKIT_RETRY_FOR, else %s in the settings file, else %v)", key, def))
}

// retryFor resolves --retry-for: flag, environment, settings file, default.
func (e *env) retryFor(f *hubFlags) (time.Duration, error) {
	file, def := e.cfg.RetryFor, interactiveRetryFor
	if f.unattended {
		file, def = e.cfg.Backup.RetryFor, unattendedRetryFor
	}
	s := pick(f.retryFor, "EDITKIT_RETRY_FOR", file)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, ui.Usagef("--retry-for %q: want a duration such as 30s, 10m or 1h", s)
	}
	return d, nil
}

// pick applies editkit's precedence: flag, then environment, then file.
func pick(flag, envName, file string) string {
	if flag != "" {
		return flag
	}
	if envName != "" {
		if v := os.Getenv(envName); v != "" {
			return v
		}
	}
	return file
}

// bytesPerSecond resolves --bwlimit.
func (e *env) bytesPerSecond(f *hubFlags) (int64, error) {
	s := pick(f.bwlimit, "EDITKIT_BWLIMIT", e.cfg.BWLimit)
	if s == "" || s == "0" || s == "none" {
		return 0, nil
	}
	n, err := units.ParseRate(s)
	if err != nil {
		return 0, &ui.UsageError{Err: err}
	}
	return n, nil
}

// openHub connects to the hub the flags, environment and settings name.
func (e *env) openHub(ctx context.Context, f *hubFlags) (*contenthub.Hub, error) {
	url := pick(f.url, "EDITKIT_HUB", e.cfg.Hub)
	if url == "" {
		return nil, ui.Usagef("no hub configured: give --hub s3://BUCKET/PREFIX or --hub FOLDER, set EDITKIT_HUB, or set hub in %s (editkit config init writes one)", e.cfgPath)
	}
	endpoint := f.s3Endpoint
	if endpoint == "" && os.Getenv("AWS_ENDPOINT_URL_S3") == "" && os.Getenv("AWS_ENDPOINT_URL") == "" {
		endpoint = e.cfg.S3Endpoint // the AWS SDK reads the environment itself
	}
	bps, err := e.bytesPerSecond(f)
	if err != nil {
		return nil, err
	}
	retryFor, err := e.retryFor(f)
	if err != nil {
		return nil, err
	}
	var logger *slog.Logger
	if os.Getenv("EDITKIT_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// No silent waits: from the first retry on, say what is happening,
	// when the next try comes, and why — once per attempt and reason, not
	// once for each of the transfers in flight that all met the outage.
	var mu sync.Mutex
	var last string
	onRetry := func(n backend.RetryNote) {
		line := fmt.Sprint(n.Attempt, n.Reason())
		mu.Lock()
		dup := line == last
		last = line
		mu.Unlock()
		if !dup {
			e.term.Retrying(n.Attempt, n.Wait, n.Reason())
		}
	}
	h, err := contenthub.Open(ctx, contenthub.Config{URL: url, S3Endpoint: endpoint, BytesPerSecond: bps, Logger: logger,
		RetryFor: retryFor, OnRetry: onRetry, Identities: e.hubIdentities, KeyringTrust: e.stateDir(), Encrypting: f.encrypting, Clock: e.runEnv(nil).Now})
	var unreachable *backend.GaveUpError
	if errors.As(err, &unreachable) {
		return nil, err // looking for an encrypted hub's keyring: not a usage error
	}
	if err != nil {
		return nil, &ui.UsageError{Err: err}
	}
	return h, nil
}

// stateDir is where this computer keeps editkit's state.
func (e *env) stateDir() string { return config.StateDir() }

// logTo sends the terminal's output to a log file as well (--log): cron and
// launchd runs keep a record, and stay quiet on success.
func (e *env) logTo(path string) (io.Closer, error) {
	if path == "" {
		return io.NopCloser(nil), nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, ui.Usagef("--log %s: %v", path, err)
	}
	e.term.SetLog(f)
	return f, nil
}

// conclude prints a command's result — JSON with an "ok" field under
// --json, else the human summary — and turns it into the exit code.
func (e *env) conclude(ok bool, res any, err error, human func()) error {
	if e.term.JSON {
		e.term.PrintJSON(withOK(ok && err == nil, res))
	} else {
		human()
	}
	if err != nil {
		return err
	}
	if !ok {
		return &ui.ExitError{Code: ui.ExitFailed}
	}
	return nil
}

// withOK puts "ok" first in a result's JSON object.
func withOK(ok bool, res any) json.RawMessage {
	body, err := json.Marshal(res)
	if err != nil || len(body) < 2 || body[0] != '{' {
		return body
	}
	head := fmt.Sprintf(`{"ok":%t`, ok)
	if string(body) == "{}" {
		return json.RawMessage(head + "}")
	}
	return json.RawMessage(head + "," + string(body[1:]))
}

// progress starts a progress reporter whose work is found as it goes.
func (e *env) progress(title string) *ui.Progress {
	p := e.term.NewProgress(title)
	p.Start(0, 0)
	return p
}
