package tracker

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/event"
)

// kind is how a column's cells are written and formatted.
type kind int

const (
	kText  kind = iota
	kTime       // a date and time
	kSize       // bytes
	kDrive      // a Media drive column: when the item arrived, or what happened to it
)

type column struct {
	name string
	kind kind
}

// tabSpec describes one tab of the Sheet (one file of the CSV tracker).
type tabSpec struct {
	name       string // tab title
	file       string // CSV file name
	cols       []column
	key        string // the column identifying a row
	frozenCols int
}

// Tab names. The layout is what the assistant editor sees; its columns are
// found by header name, so people may reorder them, rename the tabs' other
// columns or add their own: editkit only writes cells under its headers.
const (
	tabLog     = "Log"
	tabMedia   = "Media"
	tabDrives  = "Drives"
	tabBackups = "Backups"
)

// Column names shared by code.
const (
	colTime       = "Time"
	colEventID    = "Event ID"
	colPath       = "Path"
	colDriveID    = "Drive ID"
	colDrive      = "Drive"
	colSnapshot   = "Snapshot"
	colSize       = "Size"
	colFreeSpace  = "Free space"
	colCategory   = "Category"
	colHash       = "Hash"
	colNote       = "Note"
	colAdded      = "Added"
	colAddedBy    = "Added by"
	colRemoved    = "Removed"
	colOwner      = "Owner"
	colLastCopy   = "Last copy"
	colLastVerify = "Last verify"
	colVerifyRes  = "Verify result"
	colLastPull   = "Last pull"
	colFreeAt     = "Free space at"
	colSet        = "Backup set"
	colWho        = "Who"
	colHost       = "Host"
	colAction     = "Action"
	colRestored   = "Restored"
	colRestoredBy = "Restored by"
	colPruned     = "Pruned"
)

// layout returns the four tabs. A function, not a variable: no package
// state anyone could change.
func layout() []tabSpec {
	return []tabSpec{
		{name: tabLog, file: "log.csv", key: colEventID, cols: []column{
			{colTime, kTime}, {colEventID, kText}, {colWho, kText}, {colHost, kText},
			{colAction, kText}, {colDrive, kText}, {colPath, kText}, {colCategory, kText},
			{colSize, kSize}, {colHash, kText}, {colNote, kText}, {colDriveID, kText},
			{colSet, kText}, {colSnapshot, kText}, {colFreeSpace, kSize},
		}},
		{name: tabMedia, file: "media.csv", key: colPath, frozenCols: 1, cols: []column{
			{colPath, kText}, {colCategory, kText}, {colSize, kSize}, {colHash, kText},
			{colAdded, kTime}, {colAddedBy, kText}, {colRemoved, kTime},
		}},
		{name: tabDrives, file: "drives.csv", key: colDriveID, frozenCols: 1, cols: []column{
			{colDrive, kText}, {colDriveID, kText}, {colOwner, kText}, {colLastCopy, kTime},
			{colLastVerify, kTime}, {colVerifyRes, kText}, {colLastPull, kTime},
			{colFreeSpace, kSize}, {colFreeAt, kTime},
		}},
		{name: tabBackups, file: "backups.csv", key: colSnapshot, cols: []column{
			{colTime, kTime}, {colSet, kText}, {colSnapshot, kText}, {colWho, kText},
			{colHost, kText}, {colSize, kSize}, {colNote, kText}, {colRestored, kTime},
			{colRestoredBy, kText}, {colPruned, kTime},
		}},
	}
}

func specFor(name string) tabSpec {
	for _, s := range layout() {
		if s.name == name {
			return s
		}
	}
	panic("tracker: no tab " + name)
}

// codec converts between Go values and cells: typed for Sheets (numbers,
// serial dates), text for CSV.
type codec interface {
	time(t time.Time) any
	timeText(t time.Time) string // a time inside text ("pruned 2026-…")
	parseTime(v any) (time.Time, bool)
	size(n int64) any
	parseSize(v any) (int64, bool)
	text(s string) any
	parseText(v any) string
}

// sheetsCodec writes RAW values: times as spreadsheet serial numbers in
// the spreadsheet's time zone (shown through a date format), sizes as
// numbers (shown through a KB/MB/GB format), text as text — RAW means a
// path beginning with "=" stays text and never becomes a formula.
type sheetsCodec struct{ loc *time.Location }

// serialEpoch is day 0 of spreadsheet dates.
func serialEpoch() time.Time { return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC) }

func (c sheetsCodec) time(t time.Time) any {
	if t.IsZero() {
		return ""
	}
	w := t.In(c.loc)
	wall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)
	return float64(wall.Sub(serialEpoch())/time.Second) / 86400
}

func (c sheetsCodec) timeText(t time.Time) string { return t.In(c.loc).Format(textTime) }

func (c sheetsCodec) parseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case float64:
		secs := int64(math.Round(x * 86400))
		w := serialEpoch().Add(time.Duration(secs) * time.Second)
		return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, c.loc), true
	case string:
		return parseTextTime(x, c.loc)
	}
	return time.Time{}, false
}

func (sheetsCodec) size(n int64) any { return float64(n) }

func (sheetsCodec) parseSize(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.ReplaceAll(x, ",", ""), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func (sheetsCodec) text(s string) any { return s }

func (sheetsCodec) parseText(v any) string { return cellString(v) }

// csvCodec writes text a spreadsheet app reads as typed values: times as
// "2006-01-02 15:04:05" in the local zone (Excel, Numbers and LibreOffice
// all read that as a date and time), sizes as plain byte counts.
type csvCodec struct{ loc *time.Location }

const textTime = "2006-01-02 15:04:05"

func (c csvCodec) time(t time.Time) any {
	if t.IsZero() {
		return ""
	}
	return t.In(c.loc).Format(textTime)
}

func (c csvCodec) timeText(t time.Time) string { return t.In(c.loc).Format(textTime) }

func (c csvCodec) parseTime(v any) (time.Time, bool) { return parseTextTime(cellString(v), c.loc) }

func (csvCodec) size(n int64) any { return strconv.FormatInt(n, 10) }

func (csvCodec) parseSize(v any) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(cellString(v)), 10, 64)
	return n, err == nil
}

// text guards against formula injection: a spreadsheet app opening a CSV
// runs a cell beginning with = + - @ as a formula, so such text gets a
// leading apostrophe, which the apps show as plain text.
//
// Line breaks become spaces, so that every row is one line: a crash
// mid-append can then only leave a last line without its line end, which
// the CSV tracker recognises.
func (csvCodec) text(s string) any {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", " ")
		s = strings.ReplaceAll(s, "\r", " ")
		s = strings.ReplaceAll(s, "\n", " ")
	}
	if s != "" && strings.ContainsRune("=+-@\t", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (csvCodec) parseText(v any) string {
	s := cellString(v)
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

func parseTextTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{textTime, "2006-01-02 15:04", "2006-01-02T15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "TRUE"
		}
		return "FALSE"
	}
	return ""
}

// sameCell compares cells as the tracker wrote them, so that reading a
// tab back and writing it unchanged produces no writes.
func sameCell(a, b any) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok {
		return math.Abs(fa-fb) <= 1e-9*math.Max(1, math.Abs(fa))
	}
	return cellString(a) == cellString(b) && (aok == bok || cellString(a) == "")
}

// logCells renders an event as a Log row, by column name.
func logCells(e event.Event, c codec) map[string]any {
	m := map[string]any{
		colTime: c.time(e.Time), colEventID: e.ID, colWho: c.text(e.User), colHost: c.text(e.Host),
		colAction: c.text(e.Action), colDrive: c.text(e.Drive), colPath: c.text(e.Path),
		colCategory: c.text(e.Category), colHash: c.text(e.Hash), colNote: c.text(e.Note),
		colDriveID: c.text(e.DriveID), colSet: c.text(e.Set), colSnapshot: c.text(e.Snapshot),
		colSize: "", colFreeSpace: "",
	}
	if e.Size != 0 || e.Action == event.Copied || e.Action == event.Pushed || e.Action == event.Pulled {
		m[colSize] = c.size(e.Size)
	}
	if e.FreeSpace != 0 {
		m[colFreeSpace] = c.size(e.FreeSpace)
	}
	return m
}

// normHeader is the form header names are matched in, case- and
// space-insensitively: a person retyping "event id" has not removed the
// column.
func normHeader(h string) string { return strings.ToLower(strings.Join(strings.Fields(h), " ")) }
