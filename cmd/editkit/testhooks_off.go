//go:build !editkit_testhooks

package main

// testHook is nil in a normal build; see testhooks_on.go.
func testHook(string) func(step string) { return nil }
