//go:build !editkit_testhooks || !unix

package main

import (
	"time"

	"github.com/editkit/editkit/internal/place"
)

// testNow is nil in a normal build; see testhooks_on.go.
func testNow() func() time.Time { return nil }

// testHook is nil in a normal build; see testhooks_on.go.
func testHook(string) func(step string) { return nil }

// testPlaceHooks is none in a normal build; see testhooks_on.go.
func testPlaceHooks() place.Hooks { return place.Hooks{} }
