package manifest

import (
	"iter"
	"slices"
	"sync/atomic"
)

// memRecordsMax bounds the records a Drive keeps in memory (about 300
// bytes each): a bigger drive is read from its files as before.
const memRecordsMax = 50_000

// memRecords is what a writable Drive knows without reading its files:
// the records appended to a journal that was empty when it was opened, and
// the records of the manifest.ekm it last wrote. The end of a copy
// compacts the journal and then reads the manifest three times (checksum
// list, ASC MHL generation, report); for a tree of small files, decoding
// those lines again cost more than writing them. Both are dropped the
// moment they could differ from the files (too many records, a failed
// append, a manifest written by other means).
type memRecords struct {
	journalKnown bool     // journal holds exactly journal, in append order
	journal      []Record // valid while journalKnown
	base         []Record // manifest.ekm's records, valid while baseKnown
	baseKnown    bool
	// fileReads counts the journal and manifest files read for records
	// (tests prove the end of a copy reads none).
	fileReads atomic.Int64
}

// memLimit is how many records may be kept: no more than fit in one
// compaction run, so that compacting from memory sorts as from the file.
func (d *Drive) memLimit() int {
	if d.runSize > 0 {
		return min(memRecordsMax, d.runSize-1)
	}
	return memRecordsMax
}

// appended notes a record written to the journal.
func (m *memRecords) appended(r Record, limit int) {
	if !m.journalKnown {
		return
	}
	if len(m.journal) >= limit {
		m.journalKnown, m.journal = false, nil
		return
	}
	m.journal = append(m.journal, r)
}

// journalRecords streams the journal: from memory when it is known,
// otherwise from its file.
func (d *Drive) journalRecords() iter.Seq2[Record, error] {
	if d.mem.journalKnown {
		return slices2Seq(slices.Clone(d.mem.journal))
	}
	d.mem.fileReads.Add(1)
	return journalRecords(d.path(journalFile))
}

// baseRecords streams manifest.ekm: from memory when this Drive wrote it,
// otherwise from its file (checked line by line).
func (d *Drive) baseRecords() iter.Seq2[Record, error] {
	if d.mem.baseKnown {
		return slices2Seq(d.mem.base)
	}
	d.mem.fileReads.Add(1)
	return readBase(d.path(baseFile))
}

// compacted notes a new manifest.ekm holding base (nil: too many to keep)
// and an empty journal.
func (m *memRecords) compacted(base []Record, kept bool) {
	m.base, m.baseKnown = base, kept
	m.journal, m.journalKnown = nil, true
}

// forget drops everything kept: the files changed by other means.
func (m *memRecords) forget() {
	m.journal, m.journalKnown, m.base, m.baseKnown = nil, false, nil, false
}
