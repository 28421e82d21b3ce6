package main

import (
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/hubkey"
	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
)

func newKeyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Your key to encrypted hubs", Example: "  editkit key new\n  editkit key show"}
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Make your key to encrypted hubs and print its public recipient",
		Long: `Make an age X25519 identity, your private key to encrypted hubs, and
print its public recipient (age1…), which a keyholder adds with
` + "`editkit hub keys add`" + `. The identity goes beside the settings file
(` + filepath.Join("SETTINGS FOLDER", hubkey.IdentityFileName) + `), or to --identity, readable by you
only (0600). An existing identity is never replaced: it may be your only
key to a hub. Keep a copy somewhere safe (a password manager): whoever
holds it can read every hub it was added to.

Exit codes: 0 written; 1 failed; 2 bad usage or an identity is there already.`,
		Example: "  editkit key new",
		Args:    argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := e.identityFile()
			if path == "" {
				return ui.Usagef("no settings folder to keep your key in: give --identity FILE")
			}
			if _, err := os.Lstat(path); err == nil {
				return ui.Usagef("%s exists: editkit never replaces an identity (it may be your only key to a hub); `editkit key show` prints its recipient", path)
			}
			r, err := hubkey.NewIdentityFile(path, e.run.WithDefaults().Now())
			if err != nil {
				return err
			}
			if e.term.JSON {
				return e.term.PrintJSON(map[string]any{"ok": true, "identity": path, "recipient": r.Key})
			}
			e.term.Infof("Wrote your identity to %s (keep a copy somewhere safe). Your recipient, for a keyholder to add with `editkit hub keys add`:", path)
			e.term.Printf("%s\n", r.Key)
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print your public recipient, for a keyholder to add",
		Long: `Print the public recipient of your identity (the one --identity,
$EDITKIT_IDENTITY or identity in the settings file names, else the one
` + "`editkit key new`" + ` wrote), for a keyholder to add with ` + "`editkit hub keys add`" + `.
With --json, every key editkit would try is listed, SSH keys included.

Exit codes: 0 printed; 2 no identity (run ` + "`editkit key new`" + `).`,
		Example: "  editkit key show",
		Args:    argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := e.identities()
			if err != nil {
				return err
			}
			if len(ids.Recipients) == 0 {
				return ui.Usagef("you have no key: run `editkit key new`")
			}
			if e.term.JSON {
				type key struct {
					Recipient string `json:"recipient"`
					File      string `json:"file"`
				}
				keys := make([]key, len(ids.Recipients))
				for i, r := range ids.Recipients {
					keys[i] = key{r.Key, ids.Files[i]}
				}
				return e.term.PrintJSON(map[string]any{"ok": true, "recipient": ids.Recipients[0].Key, "keys": keys})
			}
			e.term.Printf("%s\n", ids.Recipients[0].Key)
			return nil
		},
	}
	cmd.AddCommand(newCmd, show)
	return cmd
}

// identityFile is the identity file the flags, environment and settings
// name, else the default one beside the settings file.
func (e *env) identityFile() string {
	if p := pick(e.identity, "EDITKIT_IDENTITY", e.cfg.Identity); p != "" {
		return p
	}
	return e.defaultIdentityFile()
}

func (e *env) defaultIdentityFile() string {
	if e.cfgPath == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(e.cfgPath), hubkey.IdentityFileName)
}

// identities are the keys a command opens an encrypted hub with: the
// identity file named or the default one, and ~/.ssh/id_ed25519 and
// id_rsa. A named file that cannot be read is a usage error.
func (e *env) identities() (*hubkey.Identities, error) {
	home, _ := os.UserHomeDir()
	ids, err := hubkey.FindIdentities(pick(e.identity, "EDITKIT_IDENTITY", e.cfg.Identity), e.defaultIdentityFile(), home)
	if err != nil {
		return nil, &ui.UsageError{Err: err}
	}
	return ids, nil
}
