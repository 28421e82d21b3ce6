//go:build race

package hashing

// raceEnabled keeps the tests to modest sizes under the race detector.
const raceEnabled = true
