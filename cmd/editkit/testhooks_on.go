//go:build editkit_testhooks && unix

package main

import (
	"github.com/editkit/editkit/internal/place"

	"os"
	"path/filepath"
	"syscall"
	"time"
)

// testNow, in the end-to-end tests' build only, is a clock running
// EDITKIT_TEST_CLOCK_AHEAD (a duration) ahead of the real one, so a test
// can run prune a grace period later without waiting for it.
func testNow() func() time.Time {
	d, err := time.ParseDuration(os.Getenv("EDITKIT_TEST_CLOCK_AHEAD"))
	if err != nil {
		return nil
	}
	return func() time.Time { return time.Now().Add(d) }
}

// testHook, in the end-to-end tests' build only (-tags editkit_testhooks),
// lets a test stop a command at a chosen step:
// EDITKIT_TEST_KILL_AT=backup:committed kills the process there (kill -9);
// EDITKIT_TEST_PAUSE_AT=backup:rechecked writes EDITKIT_TEST_PAUSE_DIR/paused
// and waits until the test creates EDITKIT_TEST_PAUSE_DIR/resume.
func testHook(command string) func(step string) {
	kill, pause, dir := os.Getenv("EDITKIT_TEST_KILL_AT"), os.Getenv("EDITKIT_TEST_PAUSE_AT"), os.Getenv("EDITKIT_TEST_PAUSE_DIR")
	if kill == "" && pause == "" {
		return nil
	}
	return func(step string) {
		at := command + ":" + step
		if at == kill {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		if at == pause && dir != "" {
			os.WriteFile(filepath.Join(dir, "paused"), []byte(at), 0o644)
			for {
				if _, err := os.Stat(filepath.Join(dir, "resume")); err == nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

// testPlaceHooks, in the end-to-end tests' build only, reads
// EDITKIT_TEST_CRASH=POINT:N: the process kills itself (kill -9) at the
// N-th occurrence of a placement point (see place.Hooks).
func testPlaceHooks() place.Hooks { return place.ParseHooks(os.Getenv("EDITKIT_TEST_CRASH")) }
