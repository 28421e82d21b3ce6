package main

import (
	"os"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/doctor"
	"github.com/editkit/editkit/internal/tracker"
	"github.com/spf13/cobra"
)

func newDoctorCmd(e *env) *cobra.Command {
	var hf hubFlags
	var sendTest bool
	var settingsErr error
	cmd := &cobra.Command{
		Use:   "doctor [DRIVE...]",
		Short: "Check the setup a cron job needs and say what to fix, one line each",
		Long: `Check, one line each (ok, warn or fail: what, and what to do):
  - the settings file is valid;
  - the hub can be reached, the credentials are accepted, a probe object can
    be written and deleted (under doctor/, which nothing else reads), and
    this computer's clock agrees with the hub's (S3 refuses requests signed
    more than 15 minutes off);
  - the tracker's Google Sheet can be read and is shared with the account
    editkit uses (named, to share it with);
  - each DRIVE: its file system (FAT32's 4 GiB file limit is a warning, and
    so is a case-sensitive volume), and its free space;
  - the state folder (the outbox) can be written;
  - the notification targets are set (with --send-test, each gets a test
    message).

Exit codes: 0 nothing failed (warnings allowed), 1 something failed.`,
		Example: `  editkit doctor
  editkit doctor /Volumes/EDITOR1 --send-test
  editkit doctor --json`,
		// The settings file is one of the things checked: a bad one is a
		// line of the answer, not a refusal to answer.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			path, required := e.settingsPath()
			e.cfgPath = path
			e.cfg, settingsErr = config.Load(path, required)
			if e.cfg.User != "" {
				e.run.User = e.cfg.User
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, statErr := os.Stat(e.cfgPath)
			rs := []doctor.Result{doctor.Settings(e.cfgPath, statErr == nil, settingsErr)}
			rs = append(rs, doctor.StateDir(e.stateDir()))
			if pick(hf.url, "EDITKIT_HUB", e.cfg.Hub) == "" {
				rs = append(rs, doctor.Result{Check: "hub", Status: doctor.Warn,
					Message: "no hub configured: backup, push and pull need one (hub in the settings file, EDITKIT_HUB, or --hub)"})
			} else {
				if pick(hf.retryFor, "EDITKIT_RETRY_FOR", e.cfg.RetryFor) == "" {
					hf.retryFor = "10s" // an answer now, not after a long outage
				}
				h, err := e.openHub(ctx, &hf)
				if err != nil {
					rs = append(rs, doctor.HubUnopened(pick(hf.url, "EDITKIT_HUB", e.cfg.Hub), err))
				} else {
					rs = append(rs, doctor.Hub(ctx, h.Storage(), h.Location(), e.runEnv(nil).Now)...)
					h.Close()
				}
			}
			rs = append(rs, doctor.Tracker(tracker.CheckAccess(ctx, e.trackerConfig())))
			for _, d := range args {
				rs = append(rs, doctor.Drive(d)...)
			}
			rs = append(rs, doctor.Notify(ctx, e.notifySettings(notifyFlags{}), sendTest)...)
			healthy := doctor.Healthy(rs)
			return e.conclude(healthy, struct {
				Checks []doctor.Result `json:"checks"`
			}{rs}, nil, func() {
				for _, r := range rs {
					e.term.Printf("%s\n", r)
				}
			})
		},
	}
	hf.register(cmd)
	cmd.Flags().BoolVar(&sendTest, "send-test", false, "send a test message to each notification target")
	return cmd
}
