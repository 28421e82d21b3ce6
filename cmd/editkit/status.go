package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newStatusCmd(e *env) *cobra.Command {
	var hf hubFlags
	var htmlPage string
	cmd := &cobra.Command{
		Use:   "status [DRIVE]",
		Short: "Who has which media, what a drive lacks, and the last backups",
		Example: `  editkit status
  editkit status /Volumes/EDITOR1
  editkit status --json
  editkit status --html /Volumes/Share/team.html`,
		Args: argsRange(0, 1, "at most one drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			drive := ""
			if len(args) == 1 {
				drive = args[0]
			}
			st, err := catalog.GetStatus(cmd.Context(), h, e.runEnv(nil).Now(), drive)
			if err != nil {
				return err
			}
			now := e.runEnv(nil).Now()
			st.Expiring = st.ExpiringByDrive(now)
			if htmlPage != "" {
				if err := writeTeamPage(htmlPage, report.TeamFromStatus(st, e.runEnv(nil).Now())); err != nil {
					return err
				}
				e.term.Infof("Team page: %s\n", htmlPage)
			}
			if e.term.JSON {
				return e.term.PrintJSON(st)
			}
			t := e.term
			t.Printf("Media catalog (%d items, %d events):\n", len(st.Items), st.Catalog.Events)
			for _, it := range st.Items {
				var who []string
				for _, d := range it.Drives {
					who = append(who, d.Label)
				}
				has := "on no drive yet"
				if len(who) > 0 {
					has = "on " + strings.Join(who, ", ")
				}
				mark := ""
				if it.OnDrive != "" && it.OnDrive != "yes" {
					mark = "  [" + it.OnDrive + " on this drive]"
				}
				if !it.Expires.IsZero() {
					mark += "  [review media, " + expiresIn(it.Expires, now) + "]"
				}
				t.Printf("  %-8s %s (%s, pushed %s by %s) %s%s\n", it.Category, it.Path, units.FormatBytes(it.Size),
					it.Time.Local().Format("2006-01-02"), it.User, has, mark)
			}
			if d := st.Drive; d != nil {
				t.Printf("\n%s (%s) lacks %d items (%s); pull it to bring them\n", d.Path, d.Label, len(d.Missing), units.FormatBytes(d.Bytes))
				for _, p := range d.Differs {
					t.Printf("  different file at %s\n", p)
				}
			}
			if len(st.Drives) > 0 {
				t.Printf("\nDrives:\n")
				for _, d := range st.Drives {
					t.Printf("  %-12s %-24s last pull %s, last verify %s, %d catalog items\n", d.Label, d.ID, when(d.LastPull), when(d.LastVerify), len(d.Has))
				}
			}
			printExpiring(e, st.Expiring, now)
			t.Printf("\nLast backups:\n")
			if len(st.Backups) == 0 {
				t.Printf("  none\n")
			}
			for _, b := range st.Backups {
				t.Printf("  %-16s %s by %s@%s: %s\n", b.Set, b.Time.Local().Format("2006-01-02 15:04"), b.User, b.Host, b.Note)
			}
			for _, rj := range st.Rejected {
				t.Printf("\nrefused catalog entry %q (pushed by %s on %s): %s\n", rj.Path, rj.User, rj.Host, rj.Reason)
			}
			for _, c := range st.Conflicts {
				t.Printf("\nconflict: %s pushed a different file to %s at the same time as another push (%s); the catalog kept the first\n", c.User, c.Path, c.Time.Local().Format("2006-01-02 15:04"))
			}
			return nil
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&htmlPage, "html", "", "also write the team page (one self-contained HTML file) to `FILE`")
	return cmd
}

// writeTeamPage replaces the page at path atomically and never through a
// link, readable by everyone the folder is shared with.
func writeTeamPage(path string, t *report.Team) error {
	if err := place.WriteFileAt(path, 0o644, func(w io.Writer) error { return report.WriteTeam(w, t) }); err != nil {
		return fmt.Errorf("writing the team page %s: %w (check the folder exists and is writable)", path, err)
	}
	return nil
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}
