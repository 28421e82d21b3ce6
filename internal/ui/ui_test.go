package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A retry is never a silent wait: the line says which attempt comes next,
// when (rounded up, never "0s") and why, even with --quiet; with --log it
// goes to the log only.
func TestRetrying(t *testing.T) {
	var errb, out bytes.Buffer
	term := &Terminal{Out: &out, Err: &errb, Quiet: true}
	term.Retrying(2, 600*time.Millisecond, "dial tcp 127.0.0.1:9: connect: connection refused")
	if got, want := errb.String(), "retrying (attempt 2, next in 1s): dial tcp 127.0.0.1:9: connect: connection refused\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out.String())
	}
	var log bytes.Buffer
	errb.Reset()
	term.SetLog(&log)
	term.Retrying(3, 2*time.Second, "x")
	if errb.Len() != 0 || !strings.HasSuffix(log.String(), " retrying (attempt 3, next in 2s): x\n") {
		t.Errorf("with --log: stderr %q, log %q", errb.String(), log.String())
	}
}

// PrintedJSON tells main whether a command's JSON result (holding its
// error) is out already, so that --json never prints two objects.
func TestPrintedJSON(t *testing.T) {
	var out bytes.Buffer
	term := &Terminal{Out: &out, Err: &out, JSON: true}
	if term.PrintedJSON() {
		t.Fatal("printed before anything was")
	}
	term.PrintJSON(map[string]bool{"ok": true})
	if !term.PrintedJSON() {
		t.Fatal("not noted")
	}
}
