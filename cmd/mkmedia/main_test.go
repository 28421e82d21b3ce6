package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0":          0,
		"1048576":    1 << 20,
		"512B":       512,
		"20MiB":      20 << 20,
		"20 MiB":     20 << 20,
		"2GiB":       2 << 30,
		"2gib":       2 << 30,
		"1.5GiB":     3 << 29,
		"500MB":      500_000_000,
		"4kb":        4000,
		"64KiB":      64 << 10,
		"1TB":        1_000_000_000_000,
		" 3 GB ":     3_000_000_000,
		"0.5KiB":     512,
		"9000000000": 9_000_000_000,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "2G", "2 M", "-1", "-1MiB", "two MB", "1e400", "NaN", "Inf", "99999999TiB", "2GiBs"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--seed", "3", "--size", "4MiB", "--unportable", dir}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, " files, ") || !strings.Contains(out, " junk") {
		t.Errorf("summary %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "Unportable")); err != nil {
		t.Error(err)
	}

	// The same directory again: not empty, so an error, not a usage problem.
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{dir}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not empty") {
		t.Errorf("non-empty dir: exit %d, stderr %q", code, stderr.String())
	}

	many := filepath.Join(t.TempDir(), "many")
	stdout.Reset()
	if code := run(context.Background(), []string{"--many-files", "250", many}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), " 250 files,") {
		t.Errorf("--many-files 250: exit %d, stdout %q", code, stdout.String())
	}
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"--size", "2G", filepath.Join(dir, "a")},
		{"--size", "-1MiB", filepath.Join(dir, "a")},
		{"--many-files", "-3", filepath.Join(dir, "a")},
		{"--seed", "x", filepath.Join(dir, "a")},
		{"--nope", filepath.Join(dir, "a")},
		{filepath.Join(dir, "a"), filepath.Join(dir, "b")},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad usage left %d entries behind", len(entries))
	}
}
