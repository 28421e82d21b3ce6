package sheetsfake

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	sheets "google.golang.org/api/sheets/v4"
)

// book is one spreadsheet.
type book struct {
	id       string
	title    string
	timeZone string
	locale   string
	sheets   []*tab
	nextID   int64
	editors  map[string]bool // principals that may write
	readers  map[string]bool // principals that may only read
	revision int
}

// tab is one sheet of a spreadsheet.
type tab struct {
	id        int64
	title     string
	index     int64
	rowCount  int
	colCount  int
	frozenRow int
	frozenCol int
	rows      [][]any // cell values: nil, string, float64 or bool
	formats   []formatRule
}

// formatRule records one repeatCell: the last rule covering a cell is its
// format. Enough to render dates and to let tests see what was formatted.
type formatRule struct {
	r0, r1, c0, c1 int // -1 end: unbounded
	format         sheets.CellFormat
	fields         string
}

func (b *book) clone() *book {
	nb := *b
	nb.sheets = make([]*tab, len(b.sheets))
	for i, t := range b.sheets {
		nt := *t
		nt.rows = make([][]any, len(t.rows))
		for r, row := range t.rows {
			nt.rows[r] = append([]any(nil), row...)
		}
		nt.formats = append([]formatRule(nil), t.formats...)
		nb.sheets[i] = &nt
	}
	return &nb
}

func (b *book) tabByTitle(title string) *tab {
	for _, t := range b.sheets {
		if t.title == title {
			return t
		}
	}
	return nil
}

func (b *book) tabByID(id int64) *tab {
	for _, t := range b.sheets {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (b *book) reindex() {
	for i, t := range b.sheets {
		t.index = int64(i)
	}
}

func (t *tab) props() *sheets.SheetProperties {
	return &sheets.SheetProperties{
		SheetId:   t.id,
		Title:     t.title,
		Index:     t.index,
		SheetType: "GRID",
		GridProperties: &sheets.GridProperties{
			RowCount:          int64(t.rowCount),
			ColumnCount:       int64(t.colCount),
			FrozenRowCount:    int64(t.frozenRow),
			FrozenColumnCount: int64(t.frozenCol),
		},
		ForceSendFields: []string{"SheetId", "Index"},
	}
}

func (t *tab) get(r, c int) any {
	if r < len(t.rows) && c < len(t.rows[r]) {
		return t.rows[r][c]
	}
	return nil
}

func (t *tab) set(r, c int, v any) {
	for len(t.rows) <= r {
		t.rows = append(t.rows, nil)
	}
	row := t.rows[r]
	for len(row) <= c {
		row = append(row, nil)
	}
	row[c] = v
	t.rows[r] = row
}

// lastRow is the index of the last row holding a value in columns
// [c0,c1) (c1 -1: all), or -1.
func (t *tab) lastRow(c0, c1 int) int {
	for r := len(t.rows) - 1; r >= 0; r-- {
		for c, v := range t.rows[r] {
			if c >= c0 && (c1 < 0 || c < c1) && !empty(v) {
				return r
			}
		}
	}
	return -1
}

func (t *tab) firstRow(from, c0, c1 int) int {
	for r := from; r < len(t.rows); r++ {
		for c, v := range t.rows[r] {
			if c >= c0 && (c1 < 0 || c < c1) && !empty(v) {
				return r
			}
		}
	}
	return -1
}

func (t *tab) insertRows(at, n int) {
	if at < len(t.rows) {
		blank := make([][]any, n)
		t.rows = append(t.rows[:at], append(blank, t.rows[at:]...)...)
	}
	t.rowCount += n
}

func (t *tab) deleteRows(at, n int) {
	if at < len(t.rows) {
		end := min(at+n, len(t.rows))
		t.rows = append(t.rows[:at], t.rows[end:]...)
	}
	t.rowCount -= n
}

func (t *tab) insertCols(at, n int) {
	for r, row := range t.rows {
		if at < len(row) {
			blank := make([]any, n)
			t.rows[r] = append(row[:at], append(blank, row[at:]...)...)
		}
	}
	t.colCount += n
}

func (t *tab) deleteCols(at, n int) {
	for r, row := range t.rows {
		if at < len(row) {
			end := min(at+n, len(row))
			t.rows[r] = append(row[:at], row[end:]...)
		}
	}
	t.colCount -= n
}

func (t *tab) formatAt(r, c int) *sheets.CellFormat {
	for i := len(t.formats) - 1; i >= 0; i-- {
		f := t.formats[i]
		if r >= f.r0 && (f.r1 < 0 || r < f.r1) && c >= f.c0 && (f.c1 < 0 || c < f.c1) {
			return &f.format
		}
	}
	return nil
}

func empty(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// Rendering options of values.get and friends.
type renderOpt struct {
	value    string // FORMATTED_VALUE (default), UNFORMATTED_VALUE, FORMULA
	dateTime string // SERIAL_NUMBER (default), FORMATTED_STRING
}

func (t *tab) render(r, c int, o renderOpt) any {
	v := t.get(r, c)
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if o.value == "FORMATTED_VALUE" || o.value == "" {
			if x {
				return "TRUE"
			}
			return "FALSE"
		}
		return x
	case float64:
		f := t.formatAt(r, c)
		isDate := f != nil && f.NumberFormat != nil &&
			(f.NumberFormat.Type == "DATE" || f.NumberFormat.Type == "DATE_TIME" || f.NumberFormat.Type == "TIME")
		switch {
		case o.value == "" || o.value == "FORMATTED_VALUE":
			if isDate {
				return formatSerial(x, f.NumberFormat.Pattern, f.NumberFormat.Type)
			}
			return strconv.FormatFloat(x, 'f', -1, 64)
		case isDate && o.dateTime == "FORMATTED_STRING":
			return formatSerial(x, f.NumberFormat.Pattern, f.NumberFormat.Type)
		default:
			return x
		}
	}
	return fmt.Sprint(v)
}

// epoch is day 0 of spreadsheet serial numbers.
var epoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

func formatSerial(x float64, pattern, typ string) string {
	secs := math.Round(x * 86400)
	t := epoch.Add(time.Duration(secs) * time.Second)
	layout := "2006-01-02 15:04:05"
	switch {
	case pattern == "yyyy-mm-dd":
		layout = "2006-01-02"
	case pattern == "yyyy-mm-dd hh:mm":
		layout = "2006-01-02 15:04"
	case pattern == "" && typ == "DATE":
		layout = "2006-01-02"
	}
	return t.Format(layout)
}

// parseUserEntered converts what a person would type into a cell value the
// way USER_ENTERED does for the inputs editkit could send: numbers,
// booleans, a leading apostrophe forcing text. Formulas are kept as text.
func parseUserEntered(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	if strings.HasPrefix(s, "'") {
		return s[1:]
	}
	switch strings.ToUpper(s) {
	case "TRUE":
		return true
	case "FALSE":
		return false
	}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64); err == nil && s != "" && !strings.ContainsAny(s, "xXpP_") {
		return f
	}
	return s
}

// normalize turns a JSON-decoded value into a stored cell value.
func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case float64, string, bool:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return fmt.Sprint(v)
}
