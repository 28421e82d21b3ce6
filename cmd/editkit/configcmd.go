package main

import (
	"errors"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
)

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "The settings file", Example: "  editkit config init\n  editkit config show"}
	var force bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented settings file to fill in",
		Long: `Write a settings file with every setting commented out and explained, at
--config, $EDITKIT_CONFIG, or ` + config.DefaultPath() + `. An existing file is
kept unless --force.`,
		Example: `  editkit config init
  editkit config init --config /Volumes/RAID/Show/editkit.toml`,
		Args: argsRange(0, 0, "no arguments"),
		// The file may not exist yet: only find where it goes.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			e.cfgPath, _ = e.settingsPath()
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := e.cfgPath
			var exists *config.ExistsError
			if err := config.WriteTemplate(path, force); errors.As(err, &exists) {
				return &ui.UsageError{Err: err}
			} else if err != nil {
				return err
			}
			if e.term.JSON {
				return e.term.PrintJSON(map[string]any{"ok": true, "file": path})
			}
			e.term.Printf("Wrote %s; edit it to set your hub and tracker.\n", path)
			return nil
		},
	}
	initCmd.Flags().BoolVar(&force, "force", false, "replace an existing settings file")
	show := &cobra.Command{
		Use:     "show",
		Short:   "Print the settings in effect from the settings file (secrets hidden)",
		Example: `  editkit config show`,
		Args:    argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.term.PrintJSON(struct {
				File     string        `json:"file"`
				StateDir string        `json:"state_dir"`
				Settings config.Config `json:"settings"`
			}{e.cfgPath, e.stateDir(), e.cfg.Redacted()}) // no secret in clear
		},
	}
	cmd.AddCommand(initCmd, show)
	return cmd
}
