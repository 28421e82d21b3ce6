package tracker

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/outbox"
)

// csvSink is the local CSV tracker: a folder with log.csv, media.csv,
// drives.csv and backups.csv, the same rows as the Sheet's tabs.
//
// Format: RFC 4180 (comma, double quotes, CRLF line ends), UTF-8 with a
// byte-order mark. The mark is what makes Excel on Windows and Mac read
// the file as UTF-8 (without it, "Scène 12.mov" shows as mojibake);
// Numbers, LibreOffice and Google Sheets' import accept it too. Programs
// reading the files must skip it (Go's encoding/csv does not: strip the
// three bytes EF BB BF first). Text fields have line breaks replaced by
// spaces, so every row is one line; text starting with = + - @ gets a
// leading apostrophe so a spreadsheet app does not run it as a formula.
// Times are local "2006-01-02 15:04:05", which every spreadsheet app reads
// as a date; sizes are byte counts.
//
// Exactly once: under the folder's lock, log.csv's Event ID column is read
// and only absent events are appended, in one write followed by fsync. A
// crash mid-append leaves at most a last line without its line end; such a
// line whose event is still waiting in the outbox is the torn write and is
// cut off before the next append (the event is then written whole), any
// other is the user's and is kept. A push that only adds rows to a
// derived file (new media) appends them through a journal (written
// atomically, carried out, removed; a crash mid-append is finished from
// it under the next lock); any other change rewrites the file atomically
// (temporary file, fsync, rename).
type csvSink struct {
	cfg   Config
	dir   string
	codec csvCodec
}

const bom = "\xEF\xBB\xBF"

func newCSVSink(cfg Config) *csvSink {
	return &csvSink{cfg: cfg, dir: cfg.CSVDir, codec: csvCodec{loc: cfg.Location}}
}

func (s *csvSink) lock(ctx context.Context) (func() error, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("tracker: cannot create the CSV tracker folder: %w", err)
	}
	unlock, err := outbox.LockFile(ctx, s.cfg.Clock, filepath.Join(s.dir, ".editkit-tracker.lock"), s.cfg.LockWait)
	if err != nil {
		return nil, fmt.Errorf("tracker: CSV folder %s: %w", s.dir, err)
	}
	if err := s.finishAppend(); err != nil {
		unlock()
		return nil, fmt.Errorf("tracker: CSV folder %s: %w", s.dir, err)
	}
	return unlock, nil
}

// appendJournal names the file, in the CSV folder, that holds an append
// to a derived file until it is on disk: a crash mid-append is completed
// from it under the next lock, so the file never keeps a torn row.
const appendJournal = ".editkit-tracker-append.json"

type pendingAppend struct {
	File string `json:"file"` // a tracker file's name
	Size int64  `json:"size"` // its size before the append
	Rows []byte `json:"rows"` // the rows appended
}

// appendRows appends encoded rows to the derived file of spec, whose size
// is size: journal first, then the append, then the journal is removed.
func (s *csvSink) appendRows(spec tabSpec, size int64, rows []byte) error {
	j, err := json.Marshal(pendingAppend{File: spec.file, Size: size, Rows: rows})
	if err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(filepath.Join(s.dir, appendJournal), j, 0o644); err != nil {
		return err
	}
	return s.finishAppend()
}

// finishAppend carries out the append the journal holds, if any: the
// rows are written at the size the file had before, over what a crash
// left of them. A file changed since (saved from another app) is left as
// it is; the journal is dropped and the next rebuild restores the view.
func (s *csvSink) finishAppend() error {
	jpath := filepath.Join(s.dir, appendJournal)
	data, err := os.ReadFile(jpath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var j pendingAppend
	if err := json.Unmarshal(data, &j); err == nil && slices.ContainsFunc(layout(), func(t tabSpec) bool { return t.file == j.File }) {
		if err := writeAppend(filepath.Join(s.dir, j.File), j.Size, j.Rows); err != nil {
			return fmt.Errorf("cannot finish writing %s (remove %s to give it up): %w", j.File, jpath, err)
		}
	}
	if err := os.Remove(jpath); err != nil {
		return err
	}
	return fsx.SyncDir(s.dir)
}

// writeAppend writes rows at offset size of the file at path when what
// follows size is the start of rows (nothing, or a torn part of them).
func writeAppend(path string, size int64, rows []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	written := fi.Size() - size
	if written < 0 || written > int64(len(rows)) {
		return nil
	}
	tail := make([]byte, written)
	if _, err := f.ReadAt(tail, size); err != nil || !bytes.Equal(tail, rows[:written]) {
		return err
	}
	if _, err := f.WriteAt(rows[written:], fi.Size()); err != nil {
		return err
	}
	return fsx.Sync(f)
}

func (s *csvSink) path(spec tabSpec) string { return filepath.Join(s.dir, spec.file) }

// readCSV reads a tracker file; a missing file reads as empty.
func readCSV(path string) (*table, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &table{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseCSV(path, data)
}

// newCSVReader reads a tracker file's bytes as people's apps save them.
func newCSVReader(data []byte) *csv.Reader {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte(bom))))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true // files people saved from other apps
	return r
}

// parseCSV parses the bytes of the tracker file at path into a table.
func parseCSV(path string, data []byte) (*table, error) {
	r := newCSVReader(data)
	t := &table{}
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if first {
			t.header = rec
			continue
		}
		row := make([]any, len(rec))
		for i, v := range rec {
			row[i] = v
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}

func encodeRows(header []string, rows [][]any, withHeader bool) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if withHeader {
		buf.WriteString(bom)
		w.Write(header)
	}
	for _, row := range rows {
		rec := make([]string, len(header))
		for i := range rec {
			if i < len(row) {
				rec[i] = cellString(row[i])
			}
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

func (s *csvSink) writeTable(spec tabSpec, t *table) error {
	return fsx.WriteFileAtomic(s.path(spec), encodeRows(t.header, t.rows, true), 0o644)
}

// ensureFile creates a file with its header, or adds missing columns to
// an existing one (rewriting it whole, atomically).
func (s *csvSink) ensureFile(spec tabSpec) (*table, error) {
	t, err := readCSV(s.path(spec))
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(s.path(spec))
	return t, s.ensureColumns(spec, t, statErr == nil)
}

// ensureColumns writes t when the file has yet to be made or lacks
// columns of spec.
func (s *csvSink) ensureColumns(spec tabSpec, t *table, exists bool) error {
	if added := t.ensureColumns(spec); len(added) > 0 || !exists {
		return s.writeTable(spec, t)
	}
	return nil
}

func (s *csvSink) init(ctx context.Context) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for _, spec := range layout() {
		if _, err := s.ensureFile(spec); err != nil {
			return fmt.Errorf("tracker: %w", err)
		}
	}
	return nil
}

// repairTail handles a log.csv whose last line has no line end: the torn
// append of an event still pending is cut off; anything else (a row typed
// in another app) gets its line end.
func (s *csvSink) repairTail(path string, pending map[string]bool) error {
	if endsWithLineEnd(path) {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	cut := bytes.LastIndexByte(data, '\n') + 1
	torn := false
	if cut > 0 {
		hdr, err := readCSV(path)
		if err == nil {
			r := csv.NewReader(bytes.NewReader(data[cut:]))
			r.FieldsPerRecord, r.LazyQuotes = -1, true
			rec, _ := r.Read()
			if c := hdr.col(colEventID); c >= 0 && c < len(rec) && pending[strings.TrimSpace(rec[c])] {
				torn = true
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if torn {
		if err := f.Truncate(int64(cut)); err != nil {
			return err
		}
	} else if _, err := f.WriteAt([]byte("\r\n"), int64(len(data))); err != nil {
		return err
	}
	return fsx.Sync(f)
}

// endsWithLineEnd tells, from its last byte alone, whether the file at
// path is empty or ends with a line end (the usual case: nothing to
// repair, and a long log is not read for it).
func endsWithLineEnd(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	if fi.Size() == 0 {
		return true
	}
	var last [1]byte
	_, err = f.ReadAt(last[:], fi.Size()-1)
	return err == nil && last[0] == '\n'
}

func (s *csvSink) push(ctx context.Context, evs []event.Event) (pushResult, error) {
	return s.pushWith(ctx, evs, true)
}

func (s *csvSink) pushWith(ctx context.Context, evs []event.Event, derived bool) (pushResult, error) {
	pr := pushResult{confirmed: map[string]bool{}}
	unlock, err := s.lock(ctx)
	if err != nil {
		return pr, err
	}
	defer unlock()

	logSpec := specFor(tabLog)
	pending := map[string]bool{}
	for _, e := range evs {
		pending[e.ID] = true
	}
	if err := s.repairTail(s.path(logSpec), pending); err != nil {
		return pr, err
	}
	lt, present, err := s.readLog(logSpec, pending)
	if err != nil {
		return pr, err
	}
	var rows [][]any
	for _, e := range evs {
		if present[e.ID] {
			pr.confirmed[e.ID] = true
			pr.already++
			continue
		}
		rows = append(rows, lt.align(logCells(e, s.codec)))
	}
	if len(rows) > 0 {
		if err := appendFile(s.path(logSpec), encodeRows(lt.header, rows, false)); err != nil {
			return pr, fmt.Errorf("tracker: cannot write %s: %w", s.path(logSpec), err)
		}
		for _, e := range evs {
			pr.confirmed[e.ID] = true
		}
		pr.written = len(rows)
	}
	if !derived {
		return pr, nil
	}
	for _, v := range views() {
		spec := v.spec()
		t, err := s.ensureFile(spec)
		if err != nil {
			return pr, err
		}
		ed, _ := update(t, v, evs, s.codec)
		if ed.empty() {
			continue
		}
		if err := s.writeEdit(spec, v, ed); err != nil {
			return pr, fmt.Errorf("tracker: cannot write %s: %w", s.path(spec), err)
		}
	}
	return pr, nil
}

// readLog reads log.csv once and returns its header and which of ids it
// holds. Its rows are parsed only when one of ids occurs somewhere in its
// bytes (a retried push), and then only their Event ID cells; so a push,
// however many events, onto a log of a year's rows that holds none of
// them costs one read and a byte scan. A log missing columns is parsed
// whole and rewritten with them.
func (s *csvSink) readLog(spec tabSpec, ids map[string]bool) (*table, map[string]bool, error) {
	path := s.path(spec)
	data, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	present := map[string]bool{}
	t := &table{}
	if hdr, err := newCSVReader(data).Read(); err == nil {
		t.header = hdr
	}
	if len(t.ensureColumns(spec)) > 0 {
		// Columns to add (or no header): the file is rewritten whole.
		if t, err = parseCSV(path, data); err != nil {
			return nil, nil, err
		}
		if err := s.ensureColumns(spec, t, exists); err != nil {
			return nil, nil, err
		}
		idCol := t.col(colEventID)
		for r := range t.rows {
			present[strings.TrimSpace(cellString(t.cell(r, idCol)))] = true
		}
		return t, present, nil
	}
	candidates := idsOccurring(data, ids)
	if len(candidates) == 0 {
		return t, present, nil
	}
	idCol := t.col(colEventID)
	r := newCSVReader(data)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // the header
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if idCol < len(rec) {
			if id := strings.TrimSpace(rec[idCol]); candidates[id] {
				present[id] = true
			}
		}
	}
	return t, present, nil
}

// idsOccurring returns those of ids that may be in the log whose bytes are
// data: each occurs somewhere in them (a cell holding an ID, quoted or
// not, holds its bytes), or is not of the shape event.NewID makes. IDs of
// that shape all have "Z-" at one offset, so one pass over data finds
// them all: each "Z-" in it is one set lookup.
func idsOccurring(data []byte, ids map[string]bool) map[string]bool {
	const idLen, anchorAt = len("20261124T153329.123456Z-9f2c01ab"), len("20261124T153329.123456")
	anchor := []byte("Z-")
	found := map[string]bool{}
	for id := range ids {
		if len(id) != idLen || id[anchorAt:anchorAt+len(anchor)] != string(anchor) {
			found[id] = true
		}
	}
	for at := 0; ; {
		i := bytes.Index(data[at:], anchor)
		if i < 0 {
			break
		}
		start := at + i - anchorAt
		if start >= 0 && start+idLen <= len(data) {
			if id := data[start : start+idLen]; ids[string(id)] {
				found[string(id)] = true
			}
		}
		at += i + 1
	}
	return found
}

// writeEdit saves an updated derived table: rows only added (new media
// pushed) are appended, anything else rewrites the file whole.
func (s *csvSink) writeEdit(spec tabSpec, v view, ed *edit) error {
	t := ed.t
	if fi, err := os.Stat(s.path(spec)); err == nil && ed.onlyAddsRows() && endsWithLineEnd(s.path(spec)) {
		return s.appendRows(spec, fi.Size(), encodeRows(t.header, t.rows[ed.origRows:], false))
	}
	dropDuplicateKeys(t, v, s.codec)
	return s.writeTable(spec, t)
}

// dropDuplicateKeys keeps the first of rows sharing a key (update made
// them identical).
func dropDuplicateKeys(t *table, v view, c codec) {
	seen := map[string]bool{}
	out := t.rows[:0]
	for r := range t.rows {
		k := v.rowKey(recordOf(t, v.spec(), r), c)
		if k != "" && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t.rows[r])
	}
	t.rows = out
}

func appendFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := fsx.Sync(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *csvSink) rebuild(ctx context.Context, all []event.Event) error {
	if _, err := s.pushWith(ctx, all, false); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for _, v := range views() {
		spec := v.spec()
		t, err := s.ensureFile(spec)
		if err != nil {
			return err
		}
		if err := s.writeTable(spec, rebuilt(t, v, all, s.codec)); err != nil {
			return fmt.Errorf("tracker: cannot write %s: %w", s.path(spec), err)
		}
	}
	return nil
}

func (s *csvSink) notSent(err error) *NotSentError {
	return &NotSentError{Err: err, Reason: err.Error(),
		Hint: fmt.Sprintf("check that the CSV tracker folder %s is reachable and writable", s.dir)}
}
