package sheetsfake

import (
	"fmt"
	"strconv"
	"strings"
)

// a1Range is a parsed A1 range. Row and column indexes are 0-based and the
// end is exclusive, as in the API's GridRange; -1 means "unbounded".
type a1Range struct {
	sheet      string // "" means the first sheet
	r0, r1     int
	c0, c1     int
	hasSheet   bool
	onlySheet  bool // the range named a sheet and nothing else
	singleCell bool
}

// parseA1 parses the A1 notation the Sheets API accepts for what editkit
// uses: "Sheet", "'My sheet'!A1", "Sheet!A1:C3", "Sheet!A:C", "Sheet!2:5",
// "Sheet!A2:C" (open-ended rows) and the same without a sheet name.
// sheetExists lets a bare name that is also a valid cell reference resolve
// as the real API does: a sheet name wins.
func parseA1(s string, sheetExists func(string) bool) (a1Range, error) {
	r := a1Range{r0: 0, r1: -1, c0: 0, c1: -1}
	if s == "" {
		return r, fmt.Errorf("empty range")
	}
	rest := s
	if strings.HasPrefix(s, "'") {
		// Quoted sheet name; '' is an escaped quote.
		var b strings.Builder
		i := 1
		for {
			if i >= len(s) {
				return r, fmt.Errorf("unterminated quote")
			}
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				break
			}
			b.WriteByte(s[i])
			i++
		}
		r.sheet, r.hasSheet = b.String(), true
		rest = s[i:]
		if rest == "" {
			r.onlySheet = true
			return r, nil
		}
		if rest[0] != '!' {
			return r, fmt.Errorf("expected ! after sheet name")
		}
		rest = rest[1:]
	} else if i := strings.LastIndexByte(s, '!'); i >= 0 {
		r.sheet, r.hasSheet = s[:i], true
		rest = s[i+1:]
	} else if sheetExists != nil && sheetExists(s) {
		r.sheet, r.hasSheet, r.onlySheet = s, true, true
		return r, nil
	}
	if rest == "" {
		return r, fmt.Errorf("no cells after !")
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 2 {
		return r, fmt.Errorf("too many colons")
	}
	c0, r0, err := parseCellRef(parts[0])
	if err != nil {
		return r, err
	}
	if len(parts) == 1 {
		if c0 < 0 || r0 < 0 {
			return r, fmt.Errorf("a single reference must name a cell")
		}
		r.c0, r.c1, r.r0, r.r1 = c0, c0+1, r0, r0+1
		r.singleCell = true
		return r, nil
	}
	c1, r1, err := parseCellRef(parts[1])
	if err != nil {
		return r, err
	}
	switch {
	case c0 >= 0 && r0 >= 0 && c1 >= 0 && r1 >= 0: // A1:C3
		r.c0, r.r0, r.c1, r.r1 = c0, r0, c1+1, r1+1
	case c0 >= 0 && r0 < 0 && c1 >= 0 && r1 < 0: // A:C
		r.c0, r.c1 = c0, c1+1
	case c0 < 0 && r0 >= 0 && c1 < 0 && r1 >= 0: // 2:5
		r.r0, r.r1 = r0, r1+1
	case c0 >= 0 && r0 >= 0 && c1 >= 0 && r1 < 0: // A2:C
		r.c0, r.r0, r.c1 = c0, r0, c1+1
	case c0 >= 0 && r0 < 0 && c1 >= 0 && r1 >= 0: // A:C5
		r.c0, r.c1, r.r1 = c0, c1+1, r1+1
	default:
		return r, fmt.Errorf("unsupported range shape")
	}
	if r.c1 >= 0 && r.c1 <= r.c0 || r.r1 >= 0 && r.r1 <= r.r0 {
		// The API swaps reversed corners; editkit never sends them.
		return r, fmt.Errorf("reversed range")
	}
	return r, nil
}

// parseCellRef parses "B12", "B" or "12"; a missing part is -1.
func parseCellRef(s string) (col, row int, err error) {
	col, row = -1, -1
	i := 0
	for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z') {
		i++
	}
	if i > 0 {
		col = 0
		for _, ch := range strings.ToUpper(s[:i]) {
			col = col*26 + int(ch-'A'+1)
		}
		col--
		if col > 18277 { // ZZZ
			return 0, 0, fmt.Errorf("column out of range")
		}
	}
	if i < len(s) {
		n, perr := strconv.Atoi(s[i:])
		if perr != nil || n < 1 {
			return 0, 0, fmt.Errorf("bad row %q", s[i:])
		}
		row = n - 1
	}
	if col < 0 && row < 0 {
		return 0, 0, fmt.Errorf("bad reference %q", s)
	}
	return col, row, nil
}

// colName turns a 0-based column index into letters: 0 → A, 26 → AA.
func colName(c int) string {
	var b []byte
	for c++; c > 0; c = (c - 1) / 26 {
		b = append([]byte{byte('A' + (c-1)%26)}, b...)
	}
	return string(b)
}

// quoteSheet quotes a sheet name when the API would.
func quoteSheet(name string) string {
	plain := name != ""
	for _, ch := range name {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_') {
			plain = false
			break
		}
	}
	if plain {
		if _, _, err := parseCellRef(name); err == nil {
			plain = false // "A1" or "Q3" would read as a cell
		}
	}
	if plain {
		return name
	}
	return "'" + strings.ReplaceAll(name, "'", "''") + "'"
}

// formatA1 prints a bounded range as the API does in responses.
func formatA1(sheet string, r0, c0, r1, c1 int) string {
	start := colName(c0) + strconv.Itoa(r0+1)
	if r1-r0 == 1 && c1-c0 == 1 {
		return quoteSheet(sheet) + "!" + start
	}
	return quoteSheet(sheet) + "!" + start + ":" + colName(c1-1) + strconv.Itoa(r1)
}
