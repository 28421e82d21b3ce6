//go:build windows

package main

import "os"

// Windows has no SIGSTOP; the end-to-end tests that pause a process run
// on Unix (this keeps the package building for go vet).
var pauseSignal, resumeSignal = os.Interrupt, os.Interrupt
