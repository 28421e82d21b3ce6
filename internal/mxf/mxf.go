// Package mxf reads an MXF file's header metadata — the packages, tracks,
// timecode and descriptors that say which media a file is (SMPTE 377M) — and
// never its essence. It reads only the header partition's metadata, with
// every length from the file capped, so a damaged or hostile file costs a
// bounded read and gives an error, never a panic or a large allocation.
package mxf

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrNotMXF is returned for input that does not start with an MXF header
// partition pack.
var ErrNotMXF = errors.New("not an MXF file")

// UMID is a SMPTE 330M basic UMID as stored in the file. Compare UMIDs as
// bytes: tools print them differently (pyaaf2 swaps the halves of Avid-style
// ones relative to ffprobe).
type UMID [32]byte

// String returns the UMID as 64 lower-case hex digits, in file byte order.
func (u UMID) String() string { return hex.EncodeToString(u[:]) }

// IsZero reports whether the UMID is all zeros (a file written without one).
func (u UMID) IsZero() bool { return u == UMID{} }

// MarshalText writes the UMID as hex, so JSON records stay readable.
func (u UMID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads 64 hex digits.
func (u *UMID) UnmarshalText(b []byte) error {
	if len(b) != 2*len(u) {
		return fmt.Errorf("mxf: UMID %q: want %d hex digits", b, 2*len(u))
	}
	_, err := hex.Decode(u[:], b)
	if err != nil {
		return fmt.Errorf("mxf: UMID %q: %w", b, err)
	}
	return nil
}

// ParseUMID reads a UMID written as 64 hex digits, optionally with the
// "urn:smpte:umid:" prefix and dots or dashes between groups.
func ParseUMID(s string) (UMID, error) {
	var u UMID
	const prefix = "urn:smpte:umid:"
	if len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix) {
		s = s[len(prefix):]
	}
	digits := make([]byte, 0, 64)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '.', '-', ' ':
		default:
			digits = append(digits, c)
		}
	}
	return u, u.UnmarshalText(digits)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Rational is an edit or sample rate, e.g. 25/1 or 30000/1001.
type Rational struct {
	Num int32 `json:"n"`
	Den int32 `json:"d"`
}

// String returns "num/den".
func (r Rational) String() string { return fmt.Sprintf("%d/%d", r.Num, r.Den) }

// Info is what an MXF file's header says about the media it holds.
type Info struct {
	// FilePackage is the source (file) package: what Avid's AAF names as
	// the file source mob.
	FilePackage     UMID     `json:"file_package"`
	MaterialPackage UMID     `json:"material_package"`
	ClipName        string   `json:"clip,omitempty"` // material package name
	TapeName        string   `json:"tape,omitempty"` // the physical/tape source package name, if any
	Kind            string   `json:"kind,omitempty"` // "video", "audio", "data"
	EditRate        Rational `json:"edit_rate"`
	StartTimecode   int64    `json:"start_tc"` // frames at EditRate (from the timecode track / source clip start)
	Duration        int64    `json:"duration"` // in edit units; 0 when the metadata does not say (a streamed file)
	DropFrame       bool     `json:"drop,omitempty"`
	TimecodeRate    int      `json:"tc_rate,omitempty"`
}
