package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/editkit/editkit/internal/verify"
	"github.com/spf13/cobra"
)

func newDriveCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drive",
		Short: "Test a drive's surface, or show what editkit knows of a drive",
		Example: `  editkit drive test /Volumes/NEWDRIVE --size all
  editkit drive info /Volumes/EDITOR1`,
	}
	cmd.AddCommand(newDriveTestCmd(e), newDriveInfoCmd(e))
	return cmd
}

func newDriveTestCmd(e *env) *cobra.Command {
	var size string
	cmd := &cobra.Command{
		Use:   "test DRIVE",
		Short: "Write and read back test data to catch counterfeit or failing drives",
		Long: `Write pseudo-random data in large files into a hidden folder on DRIVE, read
it back from the medium (not from memory) and compare, as f3 and h2testw do.
A counterfeit drive that is smaller than it claims, or a failing drive,
returns wrong data; the sequential write and read speeds are reported too.

The test files are removed afterwards (and, if a test was killed, by the next
one); nothing else on the drive is touched. A size larger than the drive's
free space is refused. To check a new drive's full capacity, use --size all.

Exit codes: 0 every byte read back right; 1 mismatches or I/O errors;
2 bad usage, or not enough free space.`,
		Example: `  # A quick check: 1 GiB
  editkit drive test /Volumes/EDITOR1

  # A new drive, before the first copy: its whole free space
  editkit drive test --size all /Volumes/NEWDRIVE`,
		Args: argsRange(1, 1, "a drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := int64(-1)
			if size != "all" {
				v, err := units.ParseBytes(size)
				if err != nil || v < 1<<20 {
					return ui.Usagef("--size %q: want a size of at least 1MiB (e.g. 1GiB, 500GB) or all", size)
				}
				n = v
			}
			progress := e.term.NewProgress("drive test")
			res, err := verify.SurfaceTest(cmd.Context(), verify.SurfaceOptions{Env: e.runEnv(progress), Drive: args[0], Size: n})
			progress.Close()
			var ue *verify.UsageError
			if errors.As(err, &ue) {
				return &ui.UsageError{Err: ue}
			}
			if err != nil {
				return err
			}
			return e.conclude(res.OK(), res, nil, func() {
				verdict := "OK: every byte read back as written"
				if !res.OK() {
					verdict = fmt.Sprintf("FAILED: %s read back wrong, %d errors — do not use this drive for media", units.FormatBytes(res.BadBytes), len(res.Errors))
				}
				e.term.Printf("Drive test of %s: %s in %d files\n  write %s (%s)\n  read  %s (%s)\n  %s\n",
					args[0], units.FormatBytes(res.Bytes), res.Files,
					units.FormatBytes(int64(res.WriteRate))+"/s", units.FormatDuration(res.WriteTime),
					units.FormatBytes(int64(res.ReadRate))+"/s", units.FormatDuration(res.ReadTime), verdict)
				for _, m := range res.Mismatches {
					e.term.Printf("  mismatch: %s at %s: %d bytes differ\n", m.File, units.FormatBytes(m.Offset), m.Bytes)
				}
				for _, er := range res.Errors {
					e.term.Printf("  error: %s\n", er)
				}
			})
		},
	}
	cmd.Flags().StringVar(&size, "size", "1GiB", "how much to write: a size (500MB, 2GiB) or all (the free space, less a safety margin)")
	return cmd
}

// driveInfo is what `editkit drive info` reports.
type driveInfo struct {
	Path       string             `json:"path"`
	Editkit    bool               `json:"editkit_drive"`
	Label      string             `json:"label,omitempty"`
	ID         string             `json:"id,omitempty"`
	FileSystem string             `json:"file_system"`
	Total      int64              `json:"total_bytes"`
	Free       int64              `json:"free_bytes"`
	Files      int                `json:"files"`
	Bytes      int64              `json:"bytes"`
	LastCopy   *manifest.Activity `json:"last_copy,omitempty"`
	LastVerify *manifest.Activity `json:"last_verify,omitempty"`
	LastPull   *manifest.Activity `json:"last_pull,omitempty"`
	Running    *manifest.Run      `json:"interrupted,omitempty"`
	MHL        []string           `json:"mhl_generations,omitempty"`
}

func newDriveInfoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "info DRIVE",
		Short: "Label, ID, file system, free space, and what editkit last did to a drive",
		Example: `  editkit drive info /Volumes/EDITOR1
  editkit drive info --json /Volumes/EDITOR1`,
		Args: argsRange(1, 1, "a drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := args[0]
			fi, err := os.Stat(root)
			if err != nil || !fi.IsDir() {
				return ui.Usagef("drive %s is not a folder; is it connected?", root)
			}
			info := driveInfo{Path: root, FileSystem: fsx.FSType(root)}
			if sp, err := fsx.FreeSpace(root); err == nil {
				info.Total, info.Free = sp.Total, sp.Free
			}
			if manifest.IsDrive(root) {
				d, err := manifest.Open(root)
				if err != nil {
					return err
				}
				info.Editkit = true
				info.Label, info.ID = d.Info.Label, d.Info.ID
				info.LastCopy, info.LastVerify, info.LastPull, info.Running = d.Info.LastCopy, d.Info.LastVerify, d.Info.LastPull, d.Info.Running
				for r, err := range d.Records() {
					if err != nil {
						return err
					}
					if !r.Dir {
						info.Files++
						info.Bytes += r.Size
					}
				}
			}
			if h, err := mhl.Open(root); err == nil {
				for _, g := range h.Generations() {
					if g.History == "" {
						info.MHL = append(info.MHL, g.File)
					}
				}
			}
			if e.term.JSON {
				return e.term.PrintJSON(info)
			}
			t := e.term
			t.Printf("Drive:        %s\n", root)
			if info.Editkit {
				t.Printf("Label:        %s\nID:           %s\n", info.Label, info.ID)
			} else {
				t.Printf("editkit:      not an editkit drive (no .editkit/); prepare it with editkit copy\n")
			}
			t.Printf("File system:  %s, %s, %s free\n", orDash(info.FileSystem), units.FormatBytes(info.Total), units.FormatBytes(info.Free))
			if info.Editkit {
				t.Printf("Media:        %d files, %s (per its manifest)\n", info.Files, units.FormatBytes(info.Bytes))
				t.Printf("Last copy:    %s\nLast verify:  %s\nLast pull:    %s\n", activity(info.LastCopy), activity(info.LastVerify), activity(info.LastPull))
				if r := info.Running; r != nil {
					t.Printf("Interrupted:  a %s started %s on %s did not finish; run it again to complete the drive\n",
						r.Command, r.Started.Local().Format("2006-01-02 15:04"), r.Host)
				}
			}
			if n := len(info.MHL); n > 0 {
				t.Printf("ASC MHL:      %d generations, newest %s\n", n, info.MHL[n-1])
			} else {
				t.Printf("ASC MHL:      none\n")
			}
			return nil
		},
	}
}

func activity(a *manifest.Activity) string {
	if a == nil {
		return "never"
	}
	who := a.User
	if a.Host != "" {
		who += "@" + a.Host
	}
	state := "OK"
	if !a.OK {
		state = "PROBLEMS"
	}
	return fmt.Sprintf("%s (%s ago) by %s: %s, %s", a.At.Local().Format("2006-01-02 15:04"),
		units.FormatDuration(time.Since(a.At).Round(time.Minute)), strings.TrimPrefix(who, "@"), state, a.Summary)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
