package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Where each kind of line goes in each mode: results on stdout unless
// --json or --quiet, information on stderr unless --quiet, warnings and
// errors always on stderr; with --log, results and information go only to
// the log, time-stamped, and warnings and errors to both.
func TestTerminalRoutesEachKindOfLine(t *testing.T) {
	type routed struct{ out, err, log string }
	cases := []struct {
		name  string
		term  func(out, err *bytes.Buffer) *Terminal
		print func(*Terminal)
		want  routed
	}{
		{"result, plain", plain, func(t *Terminal) { t.Printf("3 files copied\n") }, routed{out: "3 files copied\n"}},
		{"result, --quiet", quiet, func(t *Terminal) { t.Printf("3 files copied\n") }, routed{}},
		{"result, --json", jsonOut, func(t *Terminal) { t.Printf("3 files copied\n") }, routed{}},
		{"info, plain", plain, func(t *Terminal) { t.Infof("reading %s", "Show") }, routed{err: "reading Show\n"}},
		{"info, --quiet", quiet, func(t *Terminal) { t.Infof("reading %s", "Show") }, routed{}},
		{"info, --json", jsonOut, func(t *Terminal) { t.Infof("reading %s", "Show") }, routed{err: "reading Show\n"}},
		{"warning, --quiet", quiet, func(t *Terminal) { t.Warnf("%d files skipped", 2) }, routed{err: "warning: 2 files skipped\n"}},
		{"warning, --json", jsonOut, func(t *Terminal) { t.Warnf("%d files skipped", 2) }, routed{err: "warning: 2 files skipped\n"}},
		{"error, --quiet", quiet, func(t *Terminal) { t.Errorf("drive %s is gone", "B") }, routed{err: "drive B is gone\n"}},
		{"result, --log", logged, func(t *Terminal) { t.Printf("3 files copied\n") }, routed{log: "3 files copied\n"}},
		{"info, --log", logged, func(t *Terminal) { t.Infof("reading Show") }, routed{log: "reading Show\n"}},
		{"warning, --log", logged, func(t *Terminal) { t.Warnf("slow drive") }, routed{err: "warning: slow drive\n", log: "warning: slow drive\n"}},
		{"error, --log", logged, func(t *Terminal) { t.Errorf("drive B is gone") }, routed{err: "drive B is gone\n", log: "drive B is gone\n"}},
		{"two-line result, --log", logged, func(t *Terminal) { t.Printf("a\nb\n") }, routed{log: "a\nb\n"}},
	}
	stamp := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d `)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			term := c.term(&out, &errb)
			c.print(term)
			var log string
			if lw, ok := term.log.(*bytes.Buffer); ok {
				if n := strings.Count(lw.String(), "\n"); len(stamp.FindAllString(lw.String(), -1)) != n {
					t.Errorf("log lines not all time-stamped: %q", lw.String())
				}
				log = stamp.ReplaceAllString(lw.String(), "")
			}
			if got := (routed{out.String(), errb.String(), log}); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func plain(out, err *bytes.Buffer) *Terminal { return &Terminal{Out: out, Err: err} }
func quiet(out, err *bytes.Buffer) *Terminal { return &Terminal{Out: out, Err: err, Quiet: true} }
func jsonOut(out, err *bytes.Buffer) *Terminal {
	return &Terminal{Out: out, Err: err, JSON: true}
}
func logged(out, err *bytes.Buffer) *Terminal {
	t := &Terminal{Out: out, Err: err, TTY: true}
	t.SetLog(&bytes.Buffer{})
	return t
}

// The documented exit codes: 0 ok, 1 something failed, 2 bad usage, and a
// command's own code through any wrapping.
func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("read error"), ExitFailed},
		{context.Canceled, ExitFailed},
		{Usagef("unknown flag --x"), ExitUsage},
		{fmt.Errorf("copy: %w", Usagef("no drive")), ExitUsage},
		{&ExitError{Code: 1}, 1},
		{fmt.Errorf("verify: %w", &ExitError{Code: 2}), 2},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// The plain progress line says what is done of what, in files too; the
// time left is "–" until there is a rate to go by, and once all is done.
func TestProgressLine(t *testing.T) {
	cases := []struct {
		total, done  int64
		files, fdone int
		prefix, eta  string
	}{
		{2 << 20, 0, 2, 0, "copy:   0% 0 B of 2.0 MiB, 0 of 2 files, ", "ETA –"},
		{2 << 20, 1 << 20, 2, 1, "copy:  50% 1.0 MiB of 2.0 MiB, 1 of 2 files, ", "ETA "},
		{2 << 20, 2 << 20, 2, 2, "copy: 100% 2.0 MiB of 2.0 MiB, 2 of 2 files, ", "ETA –"},
		{0, 0, 0, 0, "copy: 100% 0 B of 0 B, 0 of 0 files, ", "ETA –"},
	}
	for _, c := range cases {
		term := &Terminal{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Quiet: true}
		p := term.NewProgress("copy")
		p.Start(c.total, c.files)
		p.Add(c.done)
		for range c.fdone {
			p.FileDone()
		}
		line := p.Line()
		p.Close()
		if !strings.HasPrefix(line, c.prefix) || !strings.Contains(line, ", "+c.eta) {
			t.Errorf("%d of %d bytes: %q, want %q…%q", c.done, c.total, line, c.prefix, c.eta)
		}
		if c.eta == "ETA " && strings.HasSuffix(line, "ETA –") {
			t.Errorf("half done, but no time left shown: %q", line)
		}
	}
}
