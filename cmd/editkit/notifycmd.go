package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/notify"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

// notifyFlags name targets on the command line of the notify commands
// (the environment or the settings file are better for URLs with tokens:
// a command line is visible to every user of the computer).
type notifyFlags struct {
	slack, teams, webhook, smtp string
	to                          []string
}

// notifySettings resolves [notify]: flags, then environment, then the
// settings file.
func (e *env) notifySettings(f notifyFlags) notify.Settings {
	n := e.cfg.Notify
	to := f.to
	if len(to) == 0 {
		if v := os.Getenv("EDITKIT_NOTIFY_TO"); v != "" {
			to = strings.Split(v, ",")
		} else {
			to = n.To
		}
	}
	return notify.Settings{
		Slack:   pick(f.slack, "EDITKIT_NOTIFY_SLACK", n.Slack),
		Teams:   pick(f.teams, "EDITKIT_NOTIFY_TEAMS", n.Teams),
		Webhook: pick(f.webhook, "EDITKIT_NOTIFY_WEBHOOK", n.Webhook),
		Mail: notify.Mail{
			Addr:     pick(f.smtp, "EDITKIT_SMTP", n.SMTP),
			User:     pick("", "EDITKIT_SMTP_USER", n.SMTPUser),
			Password: pick("", "EDITKIT_SMTP_PASSWORD", n.SMTPPassword),
			From:     pick("", "EDITKIT_NOTIFY_FROM", n.From),
			To:       to,
		},
	}
}

// notifyLockWait is how long a command waits for another editkit sending
// notifications; what it cannot send now goes with the next command.
const notifyLockWait = 5 * time.Second

// notify queues messages for the team and sends what waits. It never
// fails the command: a message that cannot go now waits in the outbox,
// and the user is told in one warning line.
func (e *env) notify(ctx context.Context, msgs ...notify.Message) {
	targets := e.notifySettings(notifyFlags{}).Targets()
	if len(targets) == 0 || len(msgs) == 0 {
		return
	}
	ob, err := e.openOutbox(ctx)
	for _, m := range msgs {
		if err != nil {
			break
		}
		m.User, m.Host = cmp.Or(m.User, e.run.User), cmp.Or(m.Host, e.run.Host)
		err = notify.Queue(ob, m)
	}
	if err != nil {
		e.term.Warnf("notification not kept: %v", err)
		return
	}
	e.sendNotifications(ctx, ob, targets)
}

// sendNotifications sends what waits in the outbox for the targets,
// leaving out targets that already failed in this run (one wait for a
// target that is down, not one per message).
func (e *env) sendNotifications(ctx context.Context, ob *outbox.Outbox, targets []notify.Target) notify.Report {
	snd, err := ob.Lock(ctx, outbox.Notify, tracker.RealClock(), notifyLockWait)
	if err != nil {
		e.term.Warnf("notifications wait in %s: %v (they go with the next command, or `editkit notify flush`)", ob.Dir(), err)
		return notify.Report{}
	}
	defer snd.Close()
	if e.notifyDown == nil {
		e.notifyDown = map[string]bool{}
	}
	rep, err := notify.Flush(ctx, snd, targets, e.notifyDown)
	for _, w := range rep.Warnings {
		e.term.Warnf("notify: %s", w)
	}
	for _, f := range rep.Failed {
		e.term.Warnf("notification not sent: %s; it waits in %s and goes with the next command or `editkit notify flush`", f, ob.Dir())
	}
	if err != nil {
		e.term.Warnf("notifications: %v (they wait in %s)", err, ob.Dir())
	}
	return rep
}

// flushNotifications sends the notifications that wait (record calls it,
// so every command that records a change also delivers them).
func (e *env) flushNotifications(ctx context.Context, ob *outbox.Outbox) {
	if targets := e.notifySettings(notifyFlags{}).Targets(); len(targets) > 0 {
		e.sendNotifications(ctx, ob, targets)
	}
}

// notifyWhenBackupFails makes a failed backup (no snapshot, or files left
// out) a message for the team: nobody reads the nightly log.
func (e *env) notifyWhenBackupFails(root *cobra.Command) {
	cmd, _, err := root.Find([]string{"backup"})
	if err != nil || cmd == root {
		return
	}
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := run(c, args)
		if err == nil || c.Context().Err() != nil {
			return err // done, or stopped (Ctrl-C, SIGTERM): the next run resumes
		}
		set, _ := c.Flags().GetString("set")
		set = cmp.Or(set, e.cfg.Backup.Set, "default")
		if len(args) == 0 {
			args = e.cfg.Backup.Paths
		}
		var ee *ui.ExitError
		if errors.As(err, &ee) {
			err = errors.New("the snapshot was written without some files (each one is listed in the backup's output or log)")
		}
		e.notify(c.Context(), notify.ForBackup(set, args, err))
		return err
	}
}

func newNotifyCmd(e *env) *cobra.Command {
	var nf notifyFlags
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Tell the team what happened: Slack, Teams, a JSON webhook or e-mail",
		Long: `editkit tells the team, on the targets set in [notify] of the settings
file (or EDITKIT_NOTIFY_SLACK, EDITKIT_NOTIFY_TEAMS, EDITKIT_NOTIFY_WEBHOOK,
EDITKIT_SMTP with EDITKIT_SMTP_USER, EDITKIT_SMTP_PASSWORD, EDITKIT_NOTIFY_FROM,
EDITKIT_NOTIFY_TO), when a drive is ready (copy finished and read back), when
a copy, a verify or a backup failed, and — once a morning, with
"editkit notify digest" from cron — which media was pushed and who pulled it.

Messages wait in the outbox in the state folder until each target has
taken them; a notification never fails the command. Every later command,
and "editkit notify flush", sends what waits.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&nf.slack, "slack", "", "Slack-compatible incoming-webhook URL (better: EDITKIT_NOTIFY_SLACK or [notify] slack)")
	pf.StringVar(&nf.teams, "teams", "", "Teams Workflows webhook URL (better: EDITKIT_NOTIFY_TEAMS or [notify] teams)")
	pf.StringVar(&nf.webhook, "webhook", "", "generic JSON webhook URL (better: EDITKIT_NOTIFY_WEBHOOK or [notify] webhook)")
	pf.StringVar(&nf.smtp, "smtp", "", "mail server host:port, STARTTLS (default: $EDITKIT_SMTP, else [notify] smtp)")
	pf.StringArrayVar(&nf.to, "to", nil, "e-mail recipient; repeatable (default: $EDITKIT_NOTIFY_TO, else [notify] to)")

	cmd.AddCommand(newNotifyFlushCmd(e, &nf), newNotifyDigestCmd(e, &nf), newNotifyTestCmd(e, &nf))
	return cmd
}

// notifyConfigured refuses notify commands without a target, or with
// settings that cannot work.
func (e *env) notifyConfigured(s notify.Settings) error {
	if errs := s.Check(); len(errs) > 0 {
		return &ui.UsageError{Err: errors.Join(errs...)}
	}
	if len(s.Targets()) == 0 {
		return ui.Usagef("no notification target: set slack, teams, webhook or smtp in [notify] of %s (or EDITKIT_NOTIFY_SLACK, …)", e.cfgPath)
	}
	return nil
}

func newNotifyFlushCmd(e *env, nf *notifyFlags) *cobra.Command {
	flush := &cobra.Command{
		Use:   "flush",
		Short: "Send the notifications that wait in the outbox",
		Args:  argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := e.notifySettings(*nf)
			if err := e.notifyConfigured(s); err != nil {
				return err
			}
			ob, err := e.openOutbox(cmd.Context())
			if err != nil {
				return err
			}
			rep := e.sendNotifications(cmd.Context(), ob, s.Targets())
			return e.conclude(rep.Waiting == 0, rep, nil, func() {
				e.term.Printf("%s sent, %s waiting\n", units.Count(rep.Sent, "message"), units.Count(rep.Waiting, "message"))
			})
		},
	}

	return flush
}

func newNotifyDigestCmd(e *env, nf *notifyFlags) *cobra.Command {
	var hf hubFlags
	digest := &cobra.Command{
		Use:   "digest",
		Short: "Send the morning digest: media pushed since the last digest, and who pulled it",
		Long: `Read the hub's event log since the last digest (the first time: the last
24 hours) and send one message: the media pushed, by category (so editors
pull), and who pulled what onto which drive. Nothing new, no message.

Where the last digest ended is kept in the state folder (notify-digest.json),
so each change is in one digest. Run it from cron or launchd each morning,
on one computer, e.g.:
  30 8 * * 1-5  editkit notify digest --quiet`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := e.notifySettings(*nf)
			if err := e.notifyConfigured(s); err != nil {
				return err
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			ob, err := e.openOutbox(cmd.Context())
			if err != nil {
				return err
			}
			snd, err := ob.Lock(cmd.Context(), outbox.Notify, tracker.RealClock(), outboxLockWait)
			if err != nil {
				return err
			}
			m, worth, err := notify.QueueDigest(cmd.Context(), ob, snd, h, filepath.Join(e.stateDir(), "notify-digest.json"), e.runEnv(nil).Now())
			snd.Close()
			if err != nil {
				return err
			}
			rep := e.sendNotifications(cmd.Context(), ob, s.Targets())
			res := struct {
				Digest string `json:"digest,omitempty"` // its title; none: nothing new
				notify.Report
			}{Report: rep}
			if worth {
				res.Digest = m.Title
			}
			return e.conclude(rep.Waiting == 0, res, nil, func() {
				if !worth {
					e.term.Printf("Nothing pushed or pulled since the last digest: no message.\n")
				} else {
					e.term.Printf("Digest queued: %s\n", m.Title)
				}
			})
		},
	}
	hf.register(digest)

	return digest
}

func newNotifyTestCmd(e *env, nf *notifyFlags) *cobra.Command {
	test := &cobra.Command{
		Use:   "test",
		Short: "Send a test message to every target now (not through the outbox) and say how each went",
		Args:  argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := e.notifySettings(*nf)
			if err := e.notifyConfigured(s); err != nil {
				return err
			}
			type line struct {
				Target string `json:"target"`
				Error  string `json:"error,omitempty"`
			}
			var lines []line
			ok := true
			for _, r := range notify.SendTest(cmd.Context(), s, e.run.User, e.run.Host) {
				l := line{Target: r.Target}
				if r.Err != nil {
					ok, l.Error = false, r.Err.Error()
				}
				lines = append(lines, l)
			}
			return e.conclude(ok, map[string][]line{"targets": lines}, nil, func() {
				for _, l := range lines {
					if l.Error != "" {
						e.term.Printf("fail: %s\n", l.Error)
					} else {
						e.term.Printf("ok:   %s took the test message\n", l.Target)
					}
				}
			})
		},
	}
	return test
}
