package main

import (
	"strings"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
)

func newWatchCmd(e *env) *cobra.Command {
	var (
		hf        hubFlags
		o         catalog.WatchOptions
		mediaRoot string
	)
	cmd := &cobra.Command{
		Use:   "watch FOLDER [--category CATEGORY] [--dest-path PATH]",
		Short: "A hot folder: push files that appear in FOLDER once they stop growing",
		Long: `Watch FOLDER and push every file that appears in it once its size and
modification time have stayed the same for --settle (a file still being
written, downloaded or rendered is never pushed; names like *.part, *.tmp,
*.crdownload are ignored). Runs until stopped (Ctrl-C, or the service manager);
when the hub is unreachable it keeps watching and tries again. What was
pushed is remembered across restarts.

Files go to --dest-path (plus their place below FOLDER) on editors' drives,
or to their place under the media root.`,
		Example: `  editkit watch ~/Incoming/VFX --category vfx --dest-path "Avid MediaFiles/MXF/7"`,
		Args:    argsRange(1, 1, "a folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Folder = args[0]
			o.Push.MediaRoot = pick(mediaRoot, "", e.cfg.MediaRoot)
			o.Push.Env = e.runEnv(nil)
			o.StateDir = e.stateDir()
			if err := catalog.ValidCategory(o.Push.Category); err != nil {
				return &ui.UsageError{Err: err}
			}
			if o.Push.DestPath == "" && o.Push.MediaRoot == "" {
				return ui.Usagef("give --dest-path (the folder on editors' drives), or set media_root in the settings file")
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			o.Push.Record, o.Push.Warn = e.recorder(h), e.warn
			o.Pushed = func(res *catalog.PushResult) {
				for _, it := range res.Items {
					e.term.Infof("%s %s %s", it.Status, it.Path, it.Detail)
				}
			}
			o.Problem = func(err error) { e.term.Warnf("%v", err) }
			e.term.Infof("watching %s (every %s, settle %s); Ctrl-C stops", o.Folder, o.Interval, o.Settle)
			return catalog.Watch(cmd.Context(), h, o)
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Push.Category, "category", "other", "kind of media: "+strings.Join(catalog.Categories, ", "))
	f.StringVar(&o.Push.Note, "note", "", "a note for the catalog and the tracker")
	f.StringVar(&o.Push.DestPath, "dest-path", "", "the folder on editors' drives")
	f.StringVar(&mediaRoot, "media-root", "", "the folder here that matches the root of editors' drives")
	f.DurationVar(&o.Interval, "interval", 5*time.Second, "how often to look at the folder")
	f.DurationVar(&o.Settle, "settle", 15*time.Second, "how long a file must stay unchanged before it is pushed")
	return cmd
}
