// Command editkit keeps editors' media drives, a cloud backup and a shared
// tracker in step. Each command lives in its own file; this one only wires
// signals and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/ui"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// The first Ctrl-C asks for a clean stop; a second one kills.
		stop()
	}()
	term := ui.NewTerminal()
	root := newRootCmd(term)
	err := root.ExecuteContext(ctx)
	if errors.Is(err, contenthub.ErrAuth) || errors.Is(err, contenthub.ErrNoBucket) {
		// The hub refused who we are, or is not there: configuration.
		err = &ui.UsageError{Err: err}
	}
	if err != nil {
		var ee *ui.ExitError
		if !errors.As(err, &ee) {
			term.Errorf("editkit: %v", err)
			var ue *ui.UsageError
			if errors.As(err, &ue) && ue.Help {
				fmt.Fprintf(os.Stderr, "Run 'editkit help' or 'editkit COMMAND --help' for usage.\n")
			}
		}
	}
	return ui.ExitCode(err)
}
