package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newHubCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "hub", Short: "Check the hub", Example: "  editkit hub check --read-data"}
	var (
		hf       hubFlags
		readData bool
		repair   bool
	)
	check := &cobra.Command{
		Use:   "check [--read-data [--repair]]",
		Short: "Check that every blob a snapshot or the media catalog uses is in the hub",
		Long: `Check that every blob a backup snapshot or the media catalog references
exists in the hub with the right size; with --read-data, download each one and
re-hash it (slow on a home line: it reads everything). Every snapshot file
and catalog item that uses a missing or damaged blob is listed; a snapshot
whose file list is damaged is named with the command that drops it.

The pack index is checked too: every pack it names must be there, every
blob within its pack. --read-data reads the packs, a few requests each, and
hashes every blob in them.

--repair (with --read-data) removes the blobs found damaged and records them,
so the next backup or push of a file that still has that content uploads it
again (a backup does not take a removed blob as present); a damaged blob in
a pack is dropped from it (the rest are repacked), and the pack index is
rebuilt from the packs' own headers.

Exit codes: 0 all there; 1 problems (each listed); 2 bad usage.`,
		Example: `  editkit hub check
  editkit hub check --read-data --bwlimit 20Mbit`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repair && !readData {
				return ui.Usagef("--repair needs --read-data: only a blob that was read is known to be damaged")
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			progress := e.progress("hub check")
			res, err := backup.Check(cmd.Context(), h, backup.CheckOptions{ReadData: readData, Repair: repair, TempDir: e.stateDir(),
				ExtraRefs: e.catalogRefs(h), Env: e.runEnv(progress)})
			progress.Close()
			if err != nil {
				return err
			}
			return e.conclude(res.OK(), res, nil, func() {
				e.term.Printf("Hub %s: %d snapshots, %d blobs referenced", h.Location(), res.Snapshots, res.Blobs)
				if readData {
					e.term.Printf(", %d re-hashed (%s)", res.Checked, units.FormatBytes(res.Bytes))
				}
				if len(res.IndexRepaired) > 0 {
					e.term.Printf("; rebuilt the pack index from the packs themselves (%d problems: %s)", len(res.IndexRepaired), strings.Join(res.IndexRepaired, "; "))
				}
				if res.OK() {
					e.term.Printf(": all there\n")
					return
				}
				e.term.Printf(": %d PROBLEMS\n", len(res.Problems)+len(res.Damaged)+len(res.Index))
				for _, d := range res.Damaged {
					e.term.Printf("  %s\n", d.Error)
				}
				for _, p := range res.Index {
					e.term.Printf("  %s\n", p)
				}
				if len(res.Index) > 0 && !res.IndexRebuilt {
					e.term.Printf("To rebuild the pack index from the packs themselves: editkit hub check --read-data --repair\n")
				}
				damaged := 0
				for _, p := range res.Problems {
					e.term.Printf("  %s: %s", p.Blob, p.Problem)
					if p.Removed {
						e.term.Printf(" (removed by --repair)")
					} else if p.Damaged {
						damaged++
					}
					e.term.Printf("; used by %d:\n", len(p.UsedBy))
					for _, u := range p.UsedBy {
						e.term.Printf("    %s\n", u)
					}
				}
				switch {
				case res.Repaired > 0:
					e.term.Printf("Removed %d damaged blobs: back up or push the files above again (from where they still exist) to upload them afresh; snapshots that name them cannot restore those files until then.\n", res.Repaired)
				case damaged > 0:
					e.term.Printf("To remove the damaged blobs so the next backup or push uploads them again: editkit hub check --read-data --repair\n")
				}
				if len(res.Problems) > res.Repaired {
					e.term.Printf("A missing blob comes back when a backup or push of a file that still has that content runs again.\n")
				}
			})
		},
	}
	hf.register(check)
	check.Flags().BoolVar(&readData, "read-data", false, "download and re-hash every blob")
	check.Flags().BoolVar(&repair, "repair", false, "with --read-data: remove the blobs found damaged, so the next backup or push of those files uploads them again")
	cmd.AddCommand(check, newHubPackCmd(e), newHubInitCmd(e), newHubKeysCmd(e))
	return cmd
}

func newHubPackCmd(e *env) *cobra.Command {
	var hf hubFlags
	cmd := &cobra.Command{
		Use:   "pack",
		Short: "Pack the small blobs a hub stored one object each (before packs existed)",
		Long: `Hubs written before editkit packed small files hold each one as an object
of its own. They stay readable; prune packs them as it goes. hub pack does
it at once: it writes the small blobs into packs, then the index, and only
then deletes the single objects, so a blob is never unavailable, even if
the command is stopped. It also merges the pack index and repacks packs
that are mostly unused. While a prune (or another hub pack) compacts the
hub, it does nothing and says who: run it again once that has finished.

Exit codes: 0 done; 1 failed, or another prune or hub pack was compacting
the hub (nothing was changed); 2 bad usage.`,
		Example: "  editkit hub pack",
		Args:    argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			re := e.runEnv(nil)
			res, err := h.Compact(cmd.Context(), nil, contenthub.CompactOptions{
				PackLoose: true, MinAge: time.Hour, Now: re.Now,
				Holder: contenthub.LeaseHolder{User: re.User, Host: re.Host}, Hook: testHook("hub-pack"),
			})
			if errors.Is(err, contenthub.ErrCompacting) {
				return fmt.Errorf("%w; run `editkit hub pack` again once it has finished", err)
			}
			if err != nil {
				return err
			}
			return e.conclude(true, res, nil, func() {
				e.term.Printf("Hub %s: packed %d small blobs (%d single objects deleted), %d packs written, %d repacked, %d deleted\n",
					h.Location(), res.LoosePacked, res.LooseDeleted, res.PacksWritten, res.PacksRepacked, res.PacksDeleted)
			})
		},
	}
	hf.register(cmd)
	return cmd
}

// checkSetFlag refuses a --set value that cannot name a backup set (it
// becomes part of the hub's keys: "../x" must never get that far) as a
// usage error; empty means "not given".
func checkSetFlag(set string) error {
	if set == "" {
		return nil
	}
	if err := contenthub.ValidSetName(set); err != nil {
		return &ui.UsageError{Err: err}
	}
	return nil
}
