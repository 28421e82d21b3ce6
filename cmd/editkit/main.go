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
	"strconv"
	"strings"
	"syscall"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hubkey"
	"github.com/editkit/editkit/internal/ui"
)

func main() {
	os.Exit(execute())
}

func execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// The first Ctrl-C asks for a clean stop; a second one kills.
		stop()
	}()
	term := ui.NewTerminal()
	root := newRootCmd(term)
	// --json as the command line asks for it, even when parsing stops at
	// an unknown flag before reaching it: the error is then JSON too.
	term.JSON = jsonRequested(os.Args[1:])
	err := root.ExecuteContext(ctx)
	if errors.Is(err, backend.ErrAuth) || errors.Is(err, backend.ErrNoBucket) || errors.Is(err, hubkey.ErrNoKey) {
		// The hub refused who we are, or is not there, or is encrypted
		// and we hold no key to it: configuration.
		err = &ui.UsageError{Err: err}
	}
	if err != nil && strings.HasPrefix(err.Error(), "unknown command ") {
		err = &ui.UsageError{Err: err, Help: true} // cobra's, for `editkit bogus`
	}
	code := ui.ExitCode(err)
	if err != nil {
		var ee *ui.ExitError
		if !errors.As(err, &ee) {
			term.Errorf("editkit: %v", err)
			var ue *ui.UsageError
			if errors.As(err, &ue) && ue.Help {
				fmt.Fprintf(os.Stderr, "Run 'editkit help' or 'editkit COMMAND --help' for usage.\n")
			}
		}
		if term.JSON && !term.PrintedJSON() {
			// A program reading stdout gets an answer whatever went wrong.
			term.PrintJSON(jsonError{OK: false, Error: err.Error(), ExitCode: code, Usage: code == ui.ExitUsage})
		}
	}
	return code
}

// jsonError is what --json prints on stdout when a command ends in an
// error before printing its result: bad usage, bad settings, or a failure.
type jsonError struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	Usage    bool   `json:"usage_error,omitempty"`
}

// jsonRequested reports whether the arguments hold --json (or
// --json=true), up to a "--".
func jsonRequested(args []string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" {
			on = true
		} else if v, ok := strings.CutPrefix(a, "--json="); ok {
			on, _ = strconv.ParseBool(v)
		}
	}
	return on
}
