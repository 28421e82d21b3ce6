//go:build !windows

package main

import "syscall"

// pauseSignal and resumeSignal freeze and thaw a process (SIGSTOP,
// SIGCONT): a test holds a running command at a point it chose, instead
// of hoping a sleep lands there.
var pauseSignal, resumeSignal = syscall.SIGSTOP, syscall.SIGCONT
