// Package mhl reads and writes ASC MHL v2.0 histories: the ascmhl/ folder
// that offload and DIT tools (Silverstack, Hedge, ShotPut Pro, the ascmhl
// reference tool) keep at the root of a tree to prove chain of custody.
//
// It owns the on-disk format and nothing else: the generation files
// (NNNN_<root>_<date>_<time>Z.mhl), the chain file (ascmhl_chain.xml), the
// hash encodings (hex, C4), the directory content/structure hashes and the
// gitignore-style ignore patterns. Walking a tree and hashing file contents
// is the caller's job: WriteGeneration takes a stream of entries, Open hands
// back what a history recorded.
//
// Paths inside a history are '/'-separated and relative to the history's
// root. Every path read from a history goes through treepath.Validate, so a
// hostile history cannot name a file outside the tree it describes.
package mhl

import (
	"fmt"
	"time"
)

// Format is a hash format, named as its XML element.
type Format string

// The hash formats ASC MHL v2.0 allows, in the order the schema requires
// them inside a <hash> element.
const (
	C4Format Format = "c4"
	MD5      Format = "md5"
	SHA1     Format = "sha1"
	XXH128   Format = "xxh128"
	XXH3     Format = "xxh3" // XXH3 64-bit
	XXH64    Format = "xxh64"
)

// rank returns f's position in schema order, or -1 for an unknown format.
func (f Format) rank() int {
	switch f {
	case C4Format:
		return 0
	case MD5:
		return 1
	case SHA1:
		return 2
	case XXH128:
		return 3
	case XXH3:
		return 4
	case XXH64:
		return 5
	}
	return -1
}

// Valid reports whether f is one of the formats ASC MHL v2.0 allows.
func (f Format) Valid() bool { return f.rank() >= 0 }

// Action says why a hash was recorded.
type Action string

const (
	// Original: the first time the file was hashed in this history.
	Original Action = "original"
	// Verified: re-hashed and equal to an earlier generation.
	Verified Action = "verified"
	// Failed: re-hashed and different from an earlier generation.
	Failed Action = "failed"
)

func (a Action) valid() bool { return a == Original || a == Verified || a == Failed }

// Hash is one recorded hash of a file.
type Hash struct {
	Format   Format
	Digest   string // lowercase hex, or a C4 id for C4Format
	Action   Action // empty when a history did not say
	HashDate time.Time
}

// DirHash is the content and structure hash of a folder (or of a history
// root) in one format. See WriteGeneration for how they are computed.
type DirHash struct {
	Format    Format
	Content   string
	Structure string
	HashDate  time.Time
}

// Processes a generation can record.
const (
	ProcessInPlace  = "in-place"
	ProcessTransfer = "transfer"
	ProcessFlatten  = "flatten"
)

// Date layouts: the reference tool writes seconds for creation and
// modification dates and microseconds for hash dates, always with a numeric
// zone. "-07:00" prints "+00:00" for UTC, which is what it writes.
const (
	layoutDate     = "2006-01-02T15:04:05-07:00"
	layoutHashDate = "2006-01-02T15:04:05.000000-07:00"
	layoutFileName = "2006-01-02_150405"
)

func formatDate(t time.Time) string { return t.UTC().Truncate(time.Second).Format(layoutDate) }
func formatHashDate(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(layoutHashDate)
}

// parseDate reads an xs:dateTime. A value without a zone is taken as UTC:
// the schema allows it and a reader must not fail on it.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}

// Names of things in a history folder.
const (
	folderName    = "ascmhl"
	chainFileName = "ascmhl_chain.xml"
	nsHashList    = "urn:ASC:MHL:v2.0"
	nsDirectory   = "urn:ASC:MHL:DIRECTORY:v2.0"
)

// defaultIgnore returns the patterns every history ignores: the history
// folder itself and macOS Finder litter.
func defaultIgnore() []string { return []string{".DS_Store", "ascmhl", "ascmhl/"} }
