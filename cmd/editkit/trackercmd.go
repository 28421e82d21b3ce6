package main

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
)

// trackerFlags are the global flags naming the tracker.
type trackerFlags struct {
	sheet       string
	credentials string
}

// trackerConfig resolves the tracker's settings: flags, then environment,
// then the settings file; without a sheet, the CSV tracker.
func (e *env) trackerConfig() tracker.Config {
	t := e.cfg.Tracker
	csv := t.CSV
	if csv == "" {
		csv = filepath.Join(e.stateDir(), "tracker")
	}
	return tracker.Config{
		Spreadsheet:     pick(e.tf.sheet, "EDITKIT_SHEET", t.Sheet),
		CredentialsFile: pick(e.tf.credentials, "GOOGLE_APPLICATION_CREDENTIALS", t.GoogleCredentials),
		TokenFile:       filepath.Join(e.stateDir(), "google-token.json"),
		OAuthClient:     e.oauthClient(),
		Endpoint:        pick("", "EDITKIT_SHEETS_ENDPOINT", t.SheetsEndpoint),
		CSVDir:          csv,
		OutboxDir:       e.outboxDir(),
		OutboxHook:      testHook("outbox"),
		// A command must not hang on an unreachable Sheet: what does not go
		// within this waits in the outbox for the next command.
		RetryFor:       20 * time.Second,
		RequestTimeout: 30 * time.Second,
		// No silent waits on the Sheet either.
		OnRetry: func(attempt int, wait time.Duration, reason string) {
			e.term.Retrying(attempt, wait, "tracker: "+reason)
		},
	}
}

func (e *env) oauthClient() tracker.OAuthClient {
	t := e.cfg.Tracker
	return tracker.OAuthClient{
		ClientID:      pick("", "EDITKIT_OAUTH_CLIENT_ID", t.OAuthClientID),
		ClientSecret:  pick("", "EDITKIT_OAUTH_CLIENT_SECRET", t.OAuthClientSecret),
		AuthURL:       t.OAuthAuthURL,
		TokenURL:      pick("", "EDITKIT_OAUTH_TOKEN_URL", t.OAuthTokenURL),
		DeviceAuthURL: t.OAuthDeviceURL,
	}
}

// track sends the outbox's events to the tracker. It never fails the
// command: what cannot be sent now waits in the outbox and goes with the
// next command or `editkit tracker sync`, and the user is warned.
func (e *env) track(ctx context.Context) {
	tr, err := tracker.New(ctx, e.trackerConfig())
	if err != nil {
		e.term.Warnf("tracker: %v (the changes wait in %s)", err, e.outboxDir())
		return
	}
	res, err := tr.Sync(ctx)
	e.trackerWarnings(res, err)
}

func (e *env) trackerWarnings(res tracker.Result, err error) {
	if err != nil {
		e.term.Warnf("tracker: %v", err)
	}
	if res.NotSent != nil {
		e.term.Warnf("tracker: %v", res.NotSent)
	}
	for _, w := range res.Warnings {
		e.term.Warnf("tracker: %s", w)
	}
}

func newTrackerCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tracker",
		Short: "The media tracker: a Google Sheet (or, without one, CSV files)",
		Long: `Every command that changes something records its changes as rows in the
media tracker: the Google Sheet named by --sheet or [tracker] sheet in the
settings file, else CSV files (log.csv, media.csv, drives.csv, backups.csv) in
[tracker] csv or the state folder. When the Sheet cannot be reached, rows wait
in the outbox in the state folder and go with the next command or tracker
sync; no row is ever written twice.`,
	}
	var hf hubFlags
	var rebuild bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create or adopt the tracker's tabs (Log, Media, Drives, Backups); harmless to repeat",
		Example: `  editkit tracker init --sheet https://docs.google.com/spreadsheets/d/1AbC.../edit --google-credentials tracker-sa.json
  editkit tracker init   # the CSV tracker, or the sheet in the settings file`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			tr, err := tracker.New(cmd.Context(), e.trackerConfig())
			if err != nil {
				return &ui.UsageError{Err: err}
			}
			if err := tr.Init(cmd.Context()); err != nil {
				return err
			}
			e.term.Printf("Tracker ready: %s\n", e.trackerName())
			return e.rememberTracker()
		},
	}
	sync := &cobra.Command{
		Use:   "sync [--rebuild]",
		Short: "Send the rows waiting in the outbox; with --rebuild, rewrite Media, Drives and Backups from the hub's event log",
		Example: `  editkit tracker sync
  editkit tracker sync --rebuild   # after someone edited the sheet by hand`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ob, err := e.openOutbox(cmd.Context())
			if err != nil {
				return err
			}
			cfg := e.trackerConfig()
			cfg.RetryFor = 2 * time.Minute // asked for: worth waiting out quota
			tr, err := tracker.New(cmd.Context(), cfg)
			if err != nil {
				return &ui.UsageError{Err: err}
			}
			if rebuild {
				h, err := e.openHub(cmd.Context(), &hf)
				if err != nil {
					return err
				}
				defer h.Close()
				var iterErr error
				all := func(yield func(event.Event) bool) {
					for r, err := range h.Events(cmd.Context()) {
						if err != nil {
							iterErr = err
							return
						}
						if !yield(r.Event) {
							return
						}
					}
				}
				if err := tr.Rebuild(cmd.Context(), iter.Seq[event.Event](all)); err != nil {
					return err
				}
				if iterErr != nil {
					return iterErr
				}
			}
			res, err := tr.Sync(cmd.Context())
			e.flushNotifications(cmd.Context(), ob)
			if e.term.JSON {
				e.term.PrintJSON(res)
			} else {
				e.term.Printf("Tracker %s: %d rows sent, %d already there, %d waiting\n", e.trackerName(), res.Sent, res.AlreadyThere, res.Pending)
			}
			// The hub's log is not this command's to deliver (only commands
			// that reach the hub do), but where its events wait is worth
			// saying.
			if n := ob.Waiting(outbox.Hub); n > 0 {
				e.term.Warnf("%d event(s) wait in %s for the hub's event log; they go with the next command that reaches the hub", n, ob.Dir())
			}
			if err != nil {
				return err
			}
			if res.NotSent != nil {
				e.term.Warnf("%v", res.NotSent)
				return &ui.ExitError{Code: ui.ExitFailed}
			}
			return nil
		},
	}
	hf.register(sync)
	sync.Flags().BoolVar(&rebuild, "rebuild", false, "rewrite the Media, Drives and Backups tabs from the hub's event log")
	var device bool
	login := &cobra.Command{
		Use:   "login [--device]",
		Short: "Sign in with a Google account (for people without a service-account key)",
		Long: `Sign in to Google in a browser (or, with --device, by typing a code on
another device) so editkit can write the tracker Sheet as you. The token is
kept in the state folder, readable only by you. Needs the OAuth client of
your Google Cloud project: oauth_client_id and oauth_client_secret in
[tracker] of the settings file.`,
		Example: `  editkit tracker login
  editkit tracker login --device   # over ssh`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			client := e.oauthClient()
			if client.ClientID == "" {
				return ui.Usagef("no OAuth client: set oauth_client_id and oauth_client_secret in [tracker] of %s (a \"Desktop app\" client of your Google Cloud project), or use a service-account key with --google-credentials", e.cfgPath)
			}
			token := filepath.Join(e.stateDir(), "google-token.json")
			err := tracker.Login(cmd.Context(), tracker.LoginOptions{
				Client:    client,
				TokenFile: token,
				Device:    device,
				Prompt: func(url, code string) {
					if code != "" {
						e.term.Errorf("Go to %s and enter the code %s", url, code)
					} else {
						e.term.Errorf("Open this page to sign in:\n  %s", url)
					}
				},
			})
			if err != nil {
				return err
			}
			e.term.Printf("Signed in; the token is in %s\n", token)
			return nil
		},
	}
	login.Flags().BoolVar(&device, "device", false, "sign in by typing a code on another device (no browser here, e.g. over ssh)")
	cmd.AddCommand(initCmd, sync, login)
	return cmd
}

// rememberTracker saves the Sheet (and key) that tracker init was given on
// its command line in the settings file, so that every later command
// writes to that Sheet instead of CSV files.
func (e *env) rememberTracker() error {
	path, _ := e.settingsPath()
	var saved []string
	if s := e.tf.sheet; s != "" && s != e.cfg.Tracker.Sheet {
		if err := config.SetIn(path, "tracker", "sheet", s); err != nil {
			return fmt.Errorf("the tracker is ready but not remembered: %w (or give --sheet to every command)", err)
		}
		saved = append(saved, "sheet")
	}
	if c := e.tf.credentials; c != "" {
		abs, err := filepath.Abs(c)
		if err == nil && abs != e.cfg.Tracker.GoogleCredentials {
			err = config.SetIn(path, "tracker", "google_credentials", abs)
			saved = append(saved, "google_credentials")
		}
		if err != nil {
			return fmt.Errorf("the tracker is ready but its key is not remembered: %w (or give --google-credentials to every command)", err)
		}
	}
	if len(saved) > 0 {
		e.term.Printf("Saved in the settings file %s ([tracker] %s): every command now writes to this tracker\n", path, strings.Join(saved, ", "))
	}
	return nil
}

func (e *env) trackerName() string {
	c := e.trackerConfig()
	if c.Spreadsheet != "" {
		return "Google Sheet " + c.Spreadsheet
	}
	return "CSV files in " + c.CSVDir
}
