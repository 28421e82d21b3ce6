//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

// trackerSuite measures the tracker's share of a 2 000-item push (against
// the fake Sheets API on 127.0.0.1, with Google's default quotas enforced),
// and the Go benchmarks of sustained rows per minute within quota.
func (b *bench) trackerSuite() error {
	fmt.Printf("\ntracker: a 2 000-item push, with the Google Sheet tracker (fake API, Google's quotas) and with CSV\n")
	fake := sheetsfake.New(sheetsfake.Options{})
	defer fake.Close()
	const sa = "ekbench@show.iam.gserviceaccount.com"
	key, err := fake.NewServiceAccount(sa)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(b.work, "tracker-sa.json")
	os.WriteFile(keyFile, key, 0o600)
	id := fake.CreateSpreadsheet("bench", sa)
	items := filepath.Join(b.work, "tracker-items")
	if _, err := os.Stat(items + ".done"); err != nil {
		os.RemoveAll(items)
		os.MkdirAll(items, 0o755)
		for i := 0; i < 2000; i++ {
			os.WriteFile(filepath.Join(items, fmt.Sprintf("SFX_%04d.wav", i)), []byte(fmt.Sprintf("sound effect %d", i)), 0o644)
		}
		os.WriteFile(items+".done", nil, 0o644)
	}
	run := func(name string, extra ...string) (time.Duration, error) {
		hubDir := filepath.Join(b.work, "tracker-hub-"+name)
		state := filepath.Join(b.work, "tracker-state-"+name)
		os.RemoveAll(hubDir)
		os.RemoveAll(state)
		os.MkdirAll(hubDir, 0o755)
		env := append(os.Environ(), "EDITKIT_STATE_DIR="+state)
		env = append(env, extra...)
		t, _, err := b.runEnv("editkit push of 2 000 items, tracker: "+name, env, b.editkit, "push", "--quiet", "--hub", hubDir, "--category", "sfx", "--dest-path", "SFX", items)
		return t, err
	}
	csvT, _, err := runTimed(run, "CSV")
	if err != nil {
		return err
	}
	sheetT, _, err := runTimed(run, "Google Sheet", "GOOGLE_APPLICATION_CREDENTIALS="+keyFile, "EDITKIT_SHEETS_ENDPOINT="+fake.URL, "EDITKIT_SHEET="+id)
	if err != nil {
		return err
	}
	st := fake.Stats()
	fmt.Printf("  Sheets requests: %+v\n", st)
	fmt.Printf("\ntracker figures:\n")
	fmt.Printf("  %-66s %s of %s (%.0f%%)\n", "the Google Sheet tracker's share of a 2 000-item push", (sheetT - csvT).Round(10*time.Millisecond),
		sheetT.Round(10*time.Millisecond), 100*(sheetT-csvT).Seconds()/sheetT.Seconds())
	cmd := exec.CommandContext(b.ctx, "go", "test", "-run", "XXX", "-bench", "SustainedRowsWithinQuota|Record2000", "-benchtime", "3x", "./internal/tracker/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("tracker benchmarks: %v\n%s", err, out)
	}
	fmt.Printf("  Go benchmarks (rows/min sustained within the 60 writes/min quota, on a sped-up clock):\n%s", indent(string(out)))
	return nil
}

func runTimed(f func(string, ...string) (time.Duration, error), name string, extra ...string) (time.Duration, int64, error) {
	t, err := f(name, extra...)
	return t, 0, err
}

func indent(s string) string {
	out := ""
	for _, l := range splitLines(s) {
		out += "    " + l + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
