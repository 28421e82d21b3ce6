package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newGenerateCmd(e *env) *cobra.Command {
	var man, markdown string
	cmd := &cobra.Command{
		Use:   "generate --man DIR | --markdown DIR",
		Short: "Write the command reference: man pages, or Markdown pages",
		Long: `Write a page for every editkit command: man pages (section 1) into --man DIR,
Markdown pages into --markdown DIR (the reference linked from the README,
docs/commands). Existing pages of the same names are replaced.`,
		Example: `  editkit generate --man /usr/local/share/man/man1
  editkit generate --markdown docs/commands`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if man == "" && markdown == "" {
				return &ui.UsageError{Err: fmt.Errorf("give --man DIR, --markdown DIR or both"), Help: true}
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // no date: the pages change only when the commands do
			if man != "" {
				if err := os.MkdirAll(man, 0o755); err != nil {
					return err
				}
				hdr := &doc.GenManHeader{Title: "EDITKIT", Section: "1", Source: "editkit " + e.run.Version, Manual: "editkit manual"}
				if err := doc.GenManTree(root, hdr, man); err != nil {
					return fmt.Errorf("writing man pages to %s: %w", man, err)
				}
				e.term.Printf("Man pages: %s\n", man)
			}
			if markdown != "" {
				if err := os.MkdirAll(markdown, 0o755); err != nil {
					return err
				}
				link := func(name string) string { return strings.TrimSuffix(filepath.Base(name), ".md") + ".md" }
				if err := doc.GenMarkdownTreeCustom(root, markdown, func(string) string { return "" }, link); err != nil {
					return fmt.Errorf("writing the Markdown reference to %s: %w", markdown, err)
				}
				e.term.Printf("Markdown reference: %s\n", markdown)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&man, "man", "", "write man pages into `DIR`")
	cmd.Flags().StringVar(&markdown, "markdown", "", "write Markdown pages into `DIR`")
	return cmd
}
