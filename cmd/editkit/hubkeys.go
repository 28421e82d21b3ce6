package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/hubkey"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newHubInitCmd(e *env) *cobra.Command {
	var (
		hf         hubFlags
		encrypt    bool
		recipients []string
		noSelf     bool
		label      string
	)
	cmd := &cobra.Command{
		Use:   "init PATH|s3://BUCKET/PREFIX [--encrypt [--recipient R]... [--no-self]]",
		Short: "Make a new hub (optionally encrypted for the team's keys) and record it in the settings file",
		Long: `Make a hub: a folder (created if missing) or a prefix in an S3 bucket
(the bucket must exist), and record it as hub in the settings file
(--config, $EDITKIT_CONFIG, or ` + config.DefaultPath() + `), so the
other commands use it without --hub.

--encrypt encrypts everything the hub will hold on this computer before it
leaves: file contents, file lists, paths, the event log. The hub's keys are
wrapped with age to each keyholder's recipient: your own key (see
` + "`editkit key new`" + `; leave it out with --no-self) and every --recipient, an age
recipient (age1…) or an SSH public key line ("ssh-ed25519 AAAA… maria@laptop").
Add and remove keyholders later with ` + "`editkit hub keys`" + `.

On a hub that holds data already, --encrypt encrypts every object in
place and removes the plain ones; meanwhile other commands are told to
wait, so run it when nobody is writing to the hub. Stopped at any point,
it is run again the same way to finish.

A folder that holds files but is not a hub is refused.

Exit codes: 0 done; 1 failed (run it again to go on); 2 bad usage, no
key of your own, or the hub is encrypted already.`,
		Example: `  editkit hub init /Volumes/NAS/show-hub
  editkit hub init s3://show-hub/editorial --encrypt --recipient age1qyqs… --recipient "$(cat maria_id_ed25519.pub)"`,
		Args: argsRange(1, 1, "the hub to make: a folder or s3://BUCKET/PREFIX"),
		// The settings file it records the hub in may not exist yet, even
		// one named with --config.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if path, _ := e.settingsPath(); path != "" {
				if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
					e.cfgPath = path
					return nil
				}
			}
			return cmd.Root().PersistentPreRunE(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !encrypt && (len(recipients) > 0 || noSelf) {
				return ui.Usagef("--recipient and --no-self go with --encrypt")
			}
			target, err := hubTarget(args[0])
			if err != nil {
				return err
			}
			var rcpts []hubkey.Recipient
			if encrypt {
				if rcpts, err = e.initialRecipients(recipients, noSelf, label); err != nil {
					return err
				}
			}
			hf.url, hf.encrypting = target, encrypt
			h, err := e.openHub(ctx, &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			res := hubInitResult{Hub: h.Location(), Settings: e.cfgPath}
			if encrypt {
				if err := e.encryptHub(ctx, h, rcpts, &res); err != nil {
					return err
				}
			}
			if err := config.SetIn(e.cfgPath, "", "hub", target); err != nil {
				return err
			}
			if hf.s3Endpoint != "" {
				if err := config.SetIn(e.cfgPath, "", "s3_endpoint", hf.s3Endpoint); err != nil {
					return err
				}
			}
			return e.conclude(true, res, nil, func() {
				if res.Sealed > 0 {
					e.term.Printf("Encrypted the %d objects the hub held (%s).\n", res.Sealed, units.FormatBytes(res.SealedBytes))
				}
				if res.Encrypted {
					e.term.Printf("Hub %s is encrypted for %s:\n", res.Hub, keyholders(len(res.Keyholders)))
					for _, r := range res.Keyholders {
						e.term.Printf("  %s\n", r)
					}
				} else {
					e.term.Printf("Hub %s is ready.\n", res.Hub)
				}
				e.term.Printf("Recorded hub = %q in %s.\n", target, res.Settings)
			})
		},
	}
	hf.register(cmd)
	cmd.Flags().BoolVar(&encrypt, "encrypt", false, "encrypt everything in the hub for the keyholders' keys")
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "with --encrypt: a keyholder's age recipient (age1…) or SSH public key line, or a file holding one (repeatable)")
	cmd.Flags().BoolVar(&noSelf, "no-self", false, "with --encrypt: do not make your own key a keyholder")
	cmd.Flags().StringVar(&label, "label", "", "with --encrypt: the label of your own key in the keyring (default: USER@HOST)")
	return cmd
}

// hubInitResult is what `hub init` prints with --json.
type hubInitResult struct {
	Hub        string             `json:"hub"`
	Settings   string             `json:"settings_file"`
	Encrypted  bool               `json:"encrypted"`
	Keyholders []hubkey.Recipient `json:"keyholders,omitempty"`
	// Sealed objects were in the hub already and are now encrypted.
	Sealed      int   `json:"encrypted_objects,omitempty"`
	SealedBytes int64 `json:"encrypted_bytes,omitempty"`
}

// hubFolders are the top-level folders of a hub (contenthub's layout and
// the keyring): a folder that holds files and none of these is not a hub.
var hubFolders = []string{"blobs", "packs", "index", "snapshots", "events", "catalog", "prune", "repair", strings.TrimSuffix(hubkey.Prefix, "/")}

// hubTarget checks the hub `hub init` was given and makes a folder hub's
// folder; it returns the hub as the settings file will name it.
func hubTarget(arg string) (string, error) {
	if strings.HasPrefix(arg, "s3://") {
		if u, err := url.Parse(arg); err != nil || u.Host == "" {
			return "", ui.Usagef("hub %q: want s3://BUCKET/PREFIX", arg)
		}
		return arg, nil
	}
	dir := arg
	if strings.HasPrefix(arg, "file://") {
		u, err := url.Parse(arg)
		if err != nil {
			return "", ui.Usagef("hub %q: %v", arg, err)
		}
		dir = u.Path
	} else if strings.Contains(arg, "://") {
		return "", ui.Usagef("hub %q: want a folder or s3://BUCKET/PREFIX", arg)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", ui.Usagef("hub folder %s: %v", arg, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("making the hub folder %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("hub folder %s: %w", dir, err)
	}
	var other string
	for _, de := range entries {
		switch {
		case de.IsDir() && slices.Contains(hubFolders, de.Name()):
			return dir, nil // a hub already
		case other == "" && !strings.HasPrefix(de.Name(), "."):
			other = de.Name()
		}
	}
	if other != "" {
		return "", ui.Usagef("%s holds %s and is not a hub: give an empty or new folder", dir, other)
	}
	return dir, nil
}

// initialRecipients are the first keyholders: each --recipient and,
// unless noSelf, the caller's own key.
func (e *env) initialRecipients(args []string, noSelf bool, label string) ([]hubkey.Recipient, error) {
	var rs []hubkey.Recipient
	if !noSelf {
		ids, err := e.identities()
		if err != nil {
			return nil, err
		}
		if len(ids.Recipients) == 0 {
			return nil, ui.Usagef("you have no key: run `editkit key new` first (or give --no-self and the keyholders' --recipient)")
		}
		if label == "" {
			re := e.runEnv(nil)
			label = re.User + "@" + re.Host
		}
		rs = append(rs, ids.Recipients[0].WithLabel(label))
	}
	for _, a := range args {
		r, err := parseRecipientArg(a)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, ui.Usagef("--no-self needs at least one --recipient: nobody could read the hub")
	}
	return rs, nil
}

// parseRecipientArg reads a recipient given on the command line: the key
// itself, or a file holding it (id_ed25519.pub), whose first line that is
// not a comment counts.
func parseRecipientArg(a string) (hubkey.Recipient, error) {
	r, err := hubkey.ParseRecipient(a)
	if err == nil {
		return r, nil
	}
	data, ferr := os.ReadFile(a)
	if ferr != nil {
		return hubkey.Recipient{}, &ui.UsageError{Err: err}
	}
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			r, err := hubkey.ParseRecipient(line)
			if errors.Is(err, hubkey.ErrPrivateKey) {
				return hubkey.Recipient{}, ui.Usagef("%s: %v", a, err)
			}
			if err != nil {
				// Not echoed: a file's content is nobody's business.
				return hubkey.Recipient{}, ui.Usagef("%s: its first line is not a recipient (want age1…, or an SSH public key line as in id_ed25519.pub)", a)
			}
			return r, nil
		}
	}
	return hubkey.Recipient{}, ui.Usagef("%s holds no recipient", a)
}

// encryptHub gives the hub its keyring and, if it holds data already,
// encrypts that in place: the hub is marked first (others are told to
// wait), so a run stopped at any point (kill -9 included) is finished by
// running the command again.
func (e *env) encryptHub(ctx context.Context, h *contenthub.Hub, rcpts []hubkey.Recipient, res *hubInitResult) error {
	unfinished, err := h.EncryptionUnfinished(ctx)
	if err != nil {
		return err
	}
	if !unfinished {
		if unfinished, err = contenthub.BeginEncryption(ctx, h); err != nil {
			return err
		}
	}
	keys, err := hubkey.Init(ctx, h.Storage(), rcpts)
	if errors.Is(err, hubkey.ErrKeyringExists) && unfinished {
		// A run that was stopped: finish it with the keyring it wrote.
		ids, ierr := e.identities()
		if ierr != nil {
			return ierr
		}
		if keys, err = hubkey.Load(ctx, h.Storage(), ids.IDs, e.stateDir()); err == nil {
			rcpts, err = hubkey.List(ctx, h.Storage(), ids.IDs, e.stateDir())
		}
	}
	if errors.Is(err, hubkey.ErrKeyringExists) {
		return &ui.UsageError{Err: fmt.Errorf("the hub %s is encrypted already: `editkit hub keys list` shows who can read it, `editkit hub keys add` adds someone", h.Location())}
	}
	if err != nil {
		return err
	}
	res.Encrypted, res.Keyholders = true, rcpts
	if !unfinished {
		return nil
	}
	prog := e.term.NewProgress("Encrypting the hub")
	hook := testHook("hub-encrypt")
	err = contenthub.EncryptInPlace(ctx, h, keys, func(p contenthub.EncryptProgress) {
		if p.Written {
			if hook != nil {
				hook(fmt.Sprintf("written:%d", p.Done+1))
			}
			return
		}
		if hook != nil {
			hook(fmt.Sprintf("done:%d", p.Done))
		}
		prog.Start(0, p.Objects)
		prog.Add(p.Bytes - res.SealedBytes)
		prog.FileDone()
		res.Sealed, res.SealedBytes = p.Done, p.Bytes
	})
	prog.Close()
	if err != nil {
		return fmt.Errorf("encrypting %s (run the command again to go on): %w", h.Location(), err)
	}
	return nil
}

func newHubKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, add and remove the keyholders of an encrypted hub",
		Long: `An encrypted hub can be read by its keyholders: the people whose age
recipient or SSH key is in its keyring. Only a keyholder can change it.

Removing a keyholder rotates the hub's data key: what is written from then
on cannot be read with their key. What was written before stays readable
to them if they can still fetch it (they may also have kept a copy), and
the names of objects do not change, so they can tell whether the hub holds
a file they have. Revoke their storage credentials (S3 keys, NAS account)
as well.`,
		Example: `  editkit hub keys list
  editkit hub keys add age1qyqs… --label "maria@laptop"
  editkit hub keys add ~/maria_id_ed25519.pub
  editkit hub keys remove maria@laptop`,
	}
	cmd.AddCommand(newHubKeysListCmd(e), newHubKeysAddCmd(e), newHubKeysRemoveCmd(e))
	return cmd
}

func newHubKeysListCmd(e *env) *cobra.Command {
	var hf hubFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the hub's keyholders",
		Long: `List the hub's keyholders: recipient and label; yours is marked.

Exit codes: 0 listed; 1 the hub failed; 2 bad usage, the hub is not
encrypted, or you are not a keyholder.`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withKeyring(cmd.Context(), &hf, func(h *contenthub.Hub, ids *hubkey.Identities) error {
				rs, err := hubkey.List(cmd.Context(), h.Storage(), ids.IDs, e.stateDir())
				if err != nil {
					return err
				}
				return e.conclude(true, map[string]any{"hub": h.Location(), "keyholders": rs}, nil, func() {
					e.term.Printf("Hub %s is encrypted for %s:\n", h.Location(), keyholders(len(rs)))
					for _, r := range rs {
						you := ""
						if slices.ContainsFunc(ids.Recipients, func(x hubkey.Recipient) bool { return x.Key == r.Key }) {
							you = " (you)"
						}
						e.term.Printf("  %s%s\n", r, you)
					}
				})
			})
		},
	}
	hf.register(list)
	return list
}

func newHubKeysAddCmd(e *env) *cobra.Command {
	var (
		addHF hubFlags
		label string
	)
	add := &cobra.Command{
		Use:   "add RECIPIENT [--label NAME]",
		Short: "Make someone a keyholder: they can read everything in the hub",
		Long: `Make someone a keyholder. RECIPIENT is what ` + "`editkit key show`" + ` prints
for them (age1…), an SSH public key line ("ssh-ed25519 AAAA… comment"), or
a file holding one (their id_ed25519.pub). They can read everything in the
hub, including what was written before they were added.

Exit codes: 0 added (or a keyholder already); 1 the hub failed; 2 bad
usage, the hub is not encrypted, or you are not a keyholder.`,
		Args: argsRange(1, 1, "the recipient to add"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseRecipientArg(args[0])
			if err != nil {
				return err
			}
			r = r.WithLabel(label)
			return e.withKeyring(cmd.Context(), &addHF, func(h *contenthub.Hub, ids *hubkey.Identities) error {
				err := hubkey.Add(cmd.Context(), h.Storage(), ids.IDs, e.stateDir(), r)
				already := errors.Is(err, hubkey.ErrAlreadyKeyholder)
				if err != nil && !already {
					return err
				}
				return e.conclude(true, map[string]any{"hub": h.Location(), "added": r, "already": already}, nil, func() {
					if already {
						e.term.Printf("%s is a keyholder of %s already.\n", r.Key, h.Location())
						return
					}
					e.term.Printf("Added %s: they can read everything in %s.\n", r, h.Location())
				})
			})
		},
	}
	addHF.register(add)
	add.Flags().StringVar(&label, "label", "", "a name for them in the keyring (default: the SSH key's comment)")
	return add
}

func newHubKeysRemoveCmd(e *env) *cobra.Command {
	var rmHF hubFlags
	remove := &cobra.Command{
		Use:   "remove RECIPIENT|LABEL",
		Short: "Take a keyholder out and rotate the hub's data key",
		Long: `Take a keyholder out, named by recipient or by label (see
` + "`editkit hub keys list`" + `), and rotate: a new data key, wrapped only to those
left, encrypts everything written from then on.

What the removed person can still read: anything written before the
removal that they can still fetch from the hub (or kept), and whether the
hub holds a file they know (object names are keyed with a key that is not
rotated, so deduplication keeps working). Revoke their storage
credentials (S3 keys, NAS account) too.

Exit codes: 0 removed; 1 the hub failed; 2 bad usage, not a keyholder,
the hub is not encrypted, or you are not a keyholder.`,
		Args: argsRange(1, 1, "the keyholder to remove, by recipient or label"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withKeyring(cmd.Context(), &rmHF, func(h *contenthub.Hub, ids *hubkey.Identities) error {
				keys, err := hubkey.Remove(cmd.Context(), h.Storage(), ids.IDs, e.stateDir(), args[0])
				if errors.Is(err, hubkey.ErrNotKeyholder) {
					return &ui.UsageError{Err: err}
				}
				if err != nil {
					return err
				}
				return e.conclude(true, map[string]any{"hub": h.Location(), "removed": args[0], "epoch": keys.Current}, nil, func() {
					e.term.Printf("Removed %s from %s and rotated to data key %d: what is written from now on cannot be read with their key.\n", args[0], h.Location(), keys.Current)
					e.term.Printf("They can still read what was written before if they can fetch it: revoke their storage credentials too.\n")
				})
			})
		},
	}
	rmHF.register(remove)
	return remove
}

// withKeyring opens the hub and the caller's identities for a keyring
// command; a hub that is not encrypted is a usage error.
func (e *env) withKeyring(ctx context.Context, hf *hubFlags, f func(*contenthub.Hub, *hubkey.Identities) error) error {
	ids, err := e.identities()
	if err != nil {
		return err
	}
	h, err := e.openHub(ctx, hf)
	if err != nil {
		return err
	}
	defer h.Close()
	err = f(h, ids)
	if errors.Is(err, hubkey.ErrNotEncrypted) {
		return ui.Usagef("the hub %s is not encrypted: `editkit hub init %s --encrypt` encrypts it", h.Location(), h.Location())
	}
	return err
}

func keyholders(n int) string {
	if n == 1 {
		return "1 keyholder"
	}
	return fmt.Sprintf("%d keyholders", n)
}
