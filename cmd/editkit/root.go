package main

import (
	"fmt"
	"os"
	"os/user"
	"runtime/debug"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/hubkey"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
)

// version is set at build time (-ldflags "-X main.version=v1.2.3").
var version = ""

func editkitVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// env is what every command gets: the terminal, the run's environment
// every engine is given (who runs it, where, with which editkit), and the
// settings file.
type env struct {
	term    *ui.Terminal
	run     run.Env
	cfgPath string // --config
	cfg     config.Config
	tf      trackerFlags
	// notifyDown: notification targets that failed in this run, not tried
	// again in it.
	notifyDown map[string]bool

	identity string // --identity: your key to an encrypted hub
}

func newRootCmd(term *ui.Terminal) *cobra.Command {
	e := &env{term: term, run: run.Env{Now: testNow(), Tool: "editkit", Version: editkitVersion()}}
	e.run.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		e.run.User = u.Username
	}
	root := &cobra.Command{
		Use:   "editkit",
		Short: "Keep editorial media drives, the hub backup and the tracker in step",
		Long: `editkit copies editorial proxies and projects to editors' drives with
verified, resumable, parallel hashed I/O (copy), verifies drives any time
(verify), backs up projects to a hub (backup, restore, snapshots, prune),
brings new media to every editor's drive (push, pull, status, watch), and
records every change in a shared media tracker (tracker).

Exit codes: 0 all done and verified, 1 something failed (each failure is
listed) or the command was interrupted, 2 bad usage or configuration, or
refused before starting.`,
		Version:       editkitVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("editkit {{.Version}}\n")
	root.PersistentFlags().StringVar(&e.tf.sheet, "sheet", "", "the tracker's Google Sheet, by ID or URL (default: [tracker] sheet in the settings file; none: CSV files)")
	root.PersistentFlags().StringVar(&e.tf.credentials, "google-credentials", "", "a Google service-account JSON key for the tracker (default: $GOOGLE_APPLICATION_CREDENTIALS, the settings file, tracker login, or application default credentials)")
	root.PersistentFlags().StringVar(&e.cfgPath, "config", "", "settings file (default: $EDITKIT_CONFIG, else "+config.DefaultPath()+")")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		path, required := e.settingsPath()
		cfg, err := config.Load(path, required)
		if err != nil {
			return &ui.UsageError{Err: err}
		}
		e.cfg, e.cfgPath = cfg, path
		if cfg.User != "" {
			e.run.User = cfg.User
		}
		return nil
	}
	root.PersistentFlags().StringVar(&e.identity, "identity", "", "your key to an encrypted hub (default: $EDITKIT_IDENTITY, else identity in the settings file, else "+hubkey.IdentityFileName+" beside it; ~/.ssh/id_ed25519 and id_rsa are tried too)")
	root.PersistentFlags().BoolVar(&term.JSON, "json", false, "print machine-readable JSON results on stdout")
	root.PersistentFlags().BoolVarP(&term.Quiet, "quiet", "q", false, "print only problems")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ui.UsageError{Err: fmt.Errorf("%s: %w", c.CommandPath(), err), Help: true}
	})
	root.AddCommand(newCopyCmd(e), newVerifyCmd(e), newDriveCmd(e),
		newBackupCmd(e), newSnapshotsCmd(e), newRestoreCmd(e), newPruneCmd(e), newHubCmd(e), newConfigCmd(e),
		newPushCmd(e), newWithdrawCmd(e), newPurgeCmd(e), newPullCmd(e), newStatusCmd(e), newWatchCmd(e), newTrackerCmd(e))
	root.AddCommand(newIndexCmd(e))
	root.AddCommand(newNeedsCmd(e))
	root.AddCommand(newNotifyCmd(e), newDoctorCmd(e))
	e.notifyWhenBackupFails(root)
	root.AddCommand(newGenerateCmd(e))
	root.AddCommand(newKeyCmd(e))
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	return root
}

// refuseUnknownSubcommands makes `editkit config bogus` a usage error (exit
// 2) instead of cobra's help and exit 0; the bare group still shows its
// help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return &ui.UsageError{Err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), Help: true}
		}
		return cmd.Help()
	}
}

// runEnv is the run's environment for an engine, its progress shown by p
// (nil: not shown).
func (e *env) runEnv(p *ui.Progress) run.Env {
	r := e.run.WithDefaults()
	if p != nil {
		r.Progress = p
	}
	return r
}

// settingsPath is the settings file to use, and whether the user named it
// (--config or $EDITKIT_CONFIG), so that it must exist.
func (e *env) settingsPath() (path string, named bool) {
	if e.cfgPath != "" {
		return e.cfgPath, true
	}
	if p := os.Getenv("EDITKIT_CONFIG"); p != "" {
		return p, true
	}
	return config.DefaultPath(), false
}

// argsRange is cobra.RangeArgs with a usage error and a hint.
func argsRange(min, max int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || (max >= 0 && len(args) > max) {
			return &ui.UsageError{Err: fmt.Errorf("%s needs %s", cmd.CommandPath(), what), Help: true}
		}
		return nil
	}
}
