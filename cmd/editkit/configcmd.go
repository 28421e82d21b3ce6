package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

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
		RunE: func(cmd *cobra.Command, args []string) error {
			path := e.cfgPath
			if _, err := os.Stat(path); err == nil && !force {
				return ui.Usagef("%s exists; edit it, or pass --force to replace it", path)
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(config.Template), 0o600); err != nil {
				return err
			}
			e.term.Printf("Wrote %s; edit it to set your hub and tracker.\n", path)
			return nil
		},
	}
	initCmd.Flags().BoolVar(&force, "force", false, "replace an existing settings file")
	show := &cobra.Command{
		Use:     "show",
		Short:   "Print the settings in effect from the settings file",
		Example: `  editkit config show`,
		Args:    argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.term.PrintJSON(struct {
				File     string        `json:"file"`
				StateDir string        `json:"state_dir"`
				Settings config.Config `json:"settings"`
			}{e.cfgPath, e.stateDir(), e.cfg})
		},
	}
	cmd.AddCommand(initCmd, show)
	return cmd
}
