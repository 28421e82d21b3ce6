package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/samplemedia"
)

// Not on a terminal (cron, a log file): plain progress lines every
// EDITKIT_LOG_INTERVAL, no bar, no escape codes.
func TestCopyLogsProgressWithoutTerminal(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 14, TotalBytes: 200 << 20})
	r := editkitEnv(t, []string{"EDITKIT_LOG_INTERVAL=50ms"}, "copy", src, t.TempDir())
	if r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	line := regexp.MustCompile(`copy: +\d+% [\d.]+ \S*B of [\d.]+ \S*B, \d+ of \d+ files, [\d.]+ \S*B/s, ETA \S+`)
	if !line.MatchString(r.stderr) {
		t.Errorf("no progress line in stderr:\n%s", r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Errorf("terminal control characters in a log:\n%q", r.stderr)
	}
}

// On a terminal: a progress bar with throughput and ETA.
func TestCopyDrawsProgressBarOnTerminal(t *testing.T) {
	long(t)
	needTool(t, "script")
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 15, TotalBytes: 200 << 20})
	// script(1) runs the command on a pseudo-terminal.
	cmd := exec.Command("script", "-qec", shellJoin([]string{editkitBin, "copy", src, t.TempDir()}), "/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("copy on a terminal: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "\r") || !strings.Contains(s, "MiB/s") || !strings.Contains(s, "files") {
		t.Errorf("no progress bar on the terminal:\n%q", s)
	}
}
