package sheetsfake

import (
	"encoding/json"
	"fmt"
	"strings"

	sheets "google.golang.org/api/sheets/v4"
)

// apply performs an authorised call on b. It returns the response body, or
// an HTTP status and message. Called with s.mu held.
func (s *Server) apply(b *book, c apiCall) (any, int, string) {
	switch c.op {
	case "spreadsheets.get":
		return s.getSpreadsheet(b), 0, ""
	case "values.get":
		return valuesGet(b, c.rng, c.query)
	case "values.batchGet":
		ranges := c.query["ranges"]
		out := &sheets.BatchGetValuesResponse{SpreadsheetId: b.id}
		for _, rg := range ranges {
			vr, code, msg := valuesGet(b, rg, c.query)
			if code != 0 {
				return nil, code, msg
			}
			out.ValueRanges = append(out.ValueRanges, vr)
		}
		return out, 0, ""
	case "values.update":
		var vr sheets.ValueRange
		if err := json.Unmarshal(c.body, &vr); err != nil {
			return nil, 400, "Invalid JSON payload received. " + err.Error()
		}
		if vr.Range != "" && vr.Range != c.rng {
			return nil, 400, fmt.Sprintf("Requested writing within range [%s], but tried writing to [%s]", c.rng, vr.Range)
		}
		vr.Range = c.rng
		nb := b.clone()
		resp, code, msg := writeValues(nb, &vr, c.query.Get("valueInputOption"))
		if code == 0 {
			s.commit(nb)
		}
		return resp, code, msg
	case "values.batchUpdate":
		var req sheets.BatchUpdateValuesRequest
		if err := json.Unmarshal(c.body, &req); err != nil {
			return nil, 400, "Invalid JSON payload received. " + err.Error()
		}
		nb := b.clone()
		out := &sheets.BatchUpdateValuesResponse{SpreadsheetId: b.id}
		touched := map[string]bool{}
		for _, vr := range req.Data {
			resp, code, msg := writeValues(nb, vr, req.ValueInputOption)
			if code != 0 {
				return nil, code, msg
			}
			out.Responses = append(out.Responses, resp)
			out.TotalUpdatedCells += resp.UpdatedCells
			out.TotalUpdatedRows += resp.UpdatedRows
			out.TotalUpdatedColumns += resp.UpdatedColumns
			touched[strings.SplitN(resp.UpdatedRange, "!", 2)[0]] = true
		}
		out.TotalUpdatedSheets = int64(len(touched))
		s.commit(nb)
		return out, 0, ""
	case "values.append":
		return s.appendValues(b, c)
	case "values.clear":
		nb := b.clone()
		cleared, code, msg := clearRange(nb, c.rng)
		if code != 0 {
			return nil, code, msg
		}
		s.commit(nb)
		return &sheets.ClearValuesResponse{SpreadsheetId: b.id, ClearedRange: cleared}, 0, ""
	case "values.batchClear":
		var req sheets.BatchClearValuesRequest
		if err := json.Unmarshal(c.body, &req); err != nil {
			return nil, 400, "Invalid JSON payload received. " + err.Error()
		}
		nb := b.clone()
		out := &sheets.BatchClearValuesResponse{SpreadsheetId: b.id}
		for _, rg := range req.Ranges {
			cleared, code, msg := clearRange(nb, rg)
			if code != 0 {
				return nil, code, msg
			}
			out.ClearedRanges = append(out.ClearedRanges, cleared)
		}
		s.commit(nb)
		return out, 0, ""
	case "spreadsheets.batchUpdate":
		return s.batchUpdate(b, c)
	}
	return nil, 400, "sheetsfake: unsupported operation " + c.op
}

// commit replaces a book with its edited clone: batch requests are atomic.
func (s *Server) commit(nb *book) {
	nb.revision++
	s.books[nb.id] = nb
}

func (s *Server) getSpreadsheet(b *book) *sheets.Spreadsheet {
	out := &sheets.Spreadsheet{
		SpreadsheetId:  b.id,
		SpreadsheetUrl: "https://docs.google.com/spreadsheets/d/" + b.id + "/edit",
		Properties: &sheets.SpreadsheetProperties{
			Title: b.title, TimeZone: b.timeZone, Locale: b.locale, AutoRecalc: "ON_CHANGE",
		},
	}
	for _, t := range b.sheets {
		out.Sheets = append(out.Sheets, &sheets.Sheet{Properties: t.props()})
	}
	return out
}

// resolve finds the sheet and bounded grid range of an A1 string, clipped
// to the grid.
func resolve(b *book, a1 string) (*tab, a1Range, int, string) {
	r, err := parseA1(a1, func(n string) bool { return b.tabByTitle(n) != nil })
	if err != nil {
		return nil, r, 400, "Unable to parse range: " + a1
	}
	var t *tab
	if r.hasSheet {
		t = b.tabByTitle(r.sheet)
	} else if len(b.sheets) > 0 {
		t = b.sheets[0]
	}
	if t == nil {
		return nil, r, 400, "Unable to parse range: " + a1
	}
	return t, r, 0, ""
}

func bounds(t *tab, r a1Range) (r0, c0, r1, c1 int) {
	r0, c0, r1, c1 = r.r0, r.c0, r.r1, r.c1
	if r1 < 0 || r1 > t.rowCount {
		r1 = t.rowCount
	}
	if c1 < 0 || c1 > t.colCount {
		c1 = t.colCount
	}
	return
}

func valuesGet(b *book, a1 string, q map[string][]string) (*sheets.ValueRange, int, string) {
	t, r, code, msg := resolve(b, a1)
	if code != 0 {
		return nil, code, msg
	}
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	o := renderOpt{value: get("valueRenderOption"), dateTime: get("dateTimeRenderOption")}
	r0, c0, r1, c1 := bounds(t, r)
	if r.singleCell || r.r1 >= 0 && r.c1 >= 0 {
		if r.r1 > t.rowCount || r.c1 > t.colCount {
			return nil, 400, fmt.Sprintf("Range (%s) exceeds grid limits. Max rows: %d, max columns: %d", a1, t.rowCount, t.colCount)
		}
	}
	vr := &sheets.ValueRange{MajorDimension: "ROWS"}
	if r1 <= r0 || c1 <= c0 {
		vr.Range = quoteSheet(t.title) + "!" + colName(c0) + fmt.Sprint(r0+1)
		return vr, 0, ""
	}
	vr.Range = formatA1(t.title, r0, c0, r1, c1)
	var rows [][]any
	for row := r0; row < r1 && row < len(t.rows); row++ {
		var cells []any
		for col := c0; col < c1; col++ {
			cells = append(cells, t.render(row, col, o))
		}
		for len(cells) > 0 && cells[len(cells)-1] == "" {
			cells = cells[:len(cells)-1]
		}
		rows = append(rows, cells)
	}
	for len(rows) > 0 && len(rows[len(rows)-1]) == 0 {
		rows = rows[:len(rows)-1]
	}
	if get("majorDimension") == "COLUMNS" {
		vr.MajorDimension = "COLUMNS"
		rows = transpose(rows)
	}
	for _, row := range rows {
		if row == nil {
			row = []any{}
		}
		vr.Values = append(vr.Values, row)
	}
	return vr, 0, ""
}

func transpose(rows [][]any) [][]any {
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	out := make([][]any, width)
	for c := range width {
		for r := range rows {
			if c < len(rows[r]) {
				out[c] = append(out[c], rows[r][c])
			} else {
				out[c] = append(out[c], "")
			}
		}
		for len(out[c]) > 0 && out[c][len(out[c])-1] == "" {
			out[c] = out[c][:len(out[c])-1]
		}
	}
	return out
}

func inputValue(v any, opt string) any {
	v = normalize(v)
	if opt == "USER_ENTERED" {
		return parseUserEntered(v)
	}
	return v
}

// writeValues writes a ValueRange at its range's top-left corner.
func writeValues(b *book, vr *sheets.ValueRange, inputOpt string) (*sheets.UpdateValuesResponse, int, string) {
	if inputOpt != "RAW" && inputOpt != "USER_ENTERED" {
		return nil, 400, "'valueInputOption' is required but not specified"
	}
	t, r, code, msg := resolve(b, vr.Range)
	if code != 0 {
		return nil, code, msg
	}
	data := vr.Values
	if vr.MajorDimension == "COLUMNS" {
		data = transpose(data)
	}
	nrows, ncols := len(data), 0
	for _, row := range data {
		ncols = max(ncols, len(row))
	}
	if nrows == 0 {
		return &sheets.UpdateValuesResponse{SpreadsheetId: b.id, UpdatedRange: vr.Range}, 0, ""
	}
	if r.r1 >= 0 && r.r0+nrows > r.r1 && !r.singleCell || r.c1 >= 0 && r.c0+ncols > r.c1 && !r.singleCell {
		return nil, 400, fmt.Sprintf("Requested writing within range [%s], but tried writing to row [%d]", vr.Range, r.r0+nrows)
	}
	if r.r0+nrows > t.rowCount || r.c0+ncols > t.colCount {
		return nil, 400, fmt.Sprintf("Range (%s) exceeds grid limits. Max rows: %d, max columns: %d", vr.Range, t.rowCount, t.colCount)
	}
	cells := 0
	for i, row := range data {
		for j, v := range row {
			if v == nil {
				continue // null leaves the cell as it is
			}
			t.set(r.r0+i, r.c0+j, inputValue(v, inputOpt))
			cells++
		}
	}
	return &sheets.UpdateValuesResponse{
		SpreadsheetId:  b.id,
		UpdatedRange:   formatA1(t.title, r.r0, r.c0, r.r0+nrows, r.c0+ncols),
		UpdatedRows:    int64(nrows),
		UpdatedColumns: int64(ncols),
		UpdatedCells:   int64(cells),
	}, 0, ""
}

func clearRange(b *book, a1 string) (string, int, string) {
	t, r, code, msg := resolve(b, a1)
	if code != 0 {
		return "", code, msg
	}
	r0, c0, r1, c1 := bounds(t, r)
	for row := r0; row < r1 && row < len(t.rows); row++ {
		for col := c0; col < c1 && col < len(t.rows[row]); col++ {
			t.rows[row][col] = nil
		}
	}
	if r1 <= r0 || c1 <= c0 {
		return quoteSheet(t.title), 0, ""
	}
	return formatA1(t.title, r0, c0, r1, c1), 0, ""
}

// appendValues finds the table in the range (the rows holding data from the
// first non-empty row on) and writes after its last row, from the range's
// first column. INSERT_ROWS inserts new rows; OVERWRITE writes over what
// follows the table, growing the grid when needed.
func (s *Server) appendValues(b *book, c apiCall) (any, int, string) {
	var vr sheets.ValueRange
	if err := json.Unmarshal(c.body, &vr); err != nil {
		return nil, 400, "Invalid JSON payload received. " + err.Error()
	}
	opt := c.query.Get("valueInputOption")
	if opt != "RAW" && opt != "USER_ENTERED" {
		return nil, 400, "'valueInputOption' is required but not specified"
	}
	insert := c.query.Get("insertDataOption")
	if insert != "" && insert != "INSERT_ROWS" && insert != "OVERWRITE" {
		return nil, 400, "Invalid value at 'insert_data_option'"
	}
	nb := b.clone()
	t, r, code, msg := resolve(nb, c.rng)
	if code != 0 {
		return nil, code, msg
	}
	data := vr.Values
	if vr.MajorDimension == "COLUMNS" {
		data = transpose(data)
	}
	ncols := 0
	for _, row := range data {
		ncols = max(ncols, len(row))
	}
	c0, c1 := r.c0, r.c1
	first := t.firstRow(r.r0, c0, c1)
	last := t.lastRow(c0, c1)
	tableRange := ""
	start := r.r0
	if first >= 0 && last >= first {
		width := 0
		for row := first; row <= last; row++ {
			width = max(width, len(t.rows[row]))
		}
		tableRange = formatA1(t.title, first, c0, last+1, max(c0+1, width))
		start = last + 1
	}
	if c0+ncols > t.colCount {
		return nil, 400, fmt.Sprintf("Range (%s) exceeds grid limits. Max rows: %d, max columns: %d", c.rng, t.rowCount, t.colCount)
	}
	n := len(data)
	if insert == "INSERT_ROWS" {
		t.insertRows(start, n)
	} else if start+n > t.rowCount {
		t.rowCount = start + n
	}
	cells := 0
	for i, row := range data {
		for j, v := range row {
			if v == nil {
				continue
			}
			t.set(start+i, c0+j, inputValue(v, opt))
			cells++
		}
	}
	s.commit(nb)
	upd := &sheets.UpdateValuesResponse{SpreadsheetId: b.id}
	if n > 0 {
		upd.UpdatedRange = formatA1(t.title, start, c0, start+n, c0+max(ncols, 1))
		upd.UpdatedRows, upd.UpdatedColumns, upd.UpdatedCells = int64(n), int64(ncols), int64(cells)
	}
	if c.query.Get("includeValuesInResponse") == "true" {
		upd.UpdatedData = &sheets.ValueRange{Range: upd.UpdatedRange, MajorDimension: "ROWS", Values: data}
	}
	return &sheets.AppendValuesResponse{SpreadsheetId: b.id, TableRange: tableRange, Updates: upd}, 0, ""
}

// batchUpdate applies spreadsheet requests atomically: if one fails,
// nothing is applied, and the error names the request as Google's does.
func (s *Server) batchUpdate(b *book, c apiCall) (any, int, string) {
	var req sheets.BatchUpdateSpreadsheetRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		return nil, 400, "Invalid JSON payload received. " + err.Error()
	}
	nb := b.clone()
	out := &sheets.BatchUpdateSpreadsheetResponse{SpreadsheetId: b.id}
	for i, rq := range req.Requests {
		reply, err := applyRequest(nb, rq)
		if err != "" {
			return nil, 400, fmt.Sprintf("Invalid requests[%d].%s", i, err)
		}
		out.Replies = append(out.Replies, reply)
	}
	s.commit(nb)
	if req.IncludeSpreadsheetInResponse {
		out.UpdatedSpreadsheet = s.getSpreadsheet(nb)
	}
	return out, 0, ""
}

func gridBounds(g *sheets.GridRange) (r0, r1, c0, c1 int) {
	r0, c0 = int(g.StartRowIndex), int(g.StartColumnIndex)
	r1, c1 = -1, -1
	if g.EndRowIndex > 0 {
		r1 = int(g.EndRowIndex)
	}
	if g.EndColumnIndex > 0 {
		c1 = int(g.EndColumnIndex)
	}
	return
}

func applyRequest(b *book, rq *sheets.Request) (*sheets.Response, string) {
	switch {
	case rq.AddSheet != nil:
		p := rq.AddSheet.Properties
		if p == nil || p.Title == "" {
			return nil, "addSheet: a sheet needs a title"
		}
		if b.tabByTitle(p.Title) != nil {
			return nil, fmt.Sprintf("addSheet: A sheet with the name %q already exists. Please enter another name.", p.Title)
		}
		t := &tab{id: p.SheetId, title: p.Title, rowCount: 1000, colCount: 26}
		if t.id == 0 {
			t.id = b.nextID
		} else if b.tabByID(t.id) != nil {
			return nil, fmt.Sprintf("addSheet: A sheet with the id %d already exists.", t.id)
		}
		if b.nextID <= t.id {
			b.nextID = t.id + 1
		}
		if g := p.GridProperties; g != nil {
			if g.RowCount > 0 {
				t.rowCount = int(g.RowCount)
			}
			if g.ColumnCount > 0 {
				t.colCount = int(g.ColumnCount)
			}
			t.frozenRow, t.frozenCol = int(g.FrozenRowCount), int(g.FrozenColumnCount)
		}
		idx := len(b.sheets)
		if p.Index > 0 && int(p.Index) < idx {
			idx = int(p.Index)
		}
		b.sheets = append(b.sheets[:idx], append([]*tab{t}, b.sheets[idx:]...)...)
		b.reindex()
		return &sheets.Response{AddSheet: &sheets.AddSheetResponse{Properties: t.props()}}, ""
	case rq.UpdateSheetProperties != nil:
		u := rq.UpdateSheetProperties
		if u.Properties == nil {
			return nil, "updateSheetProperties: no properties"
		}
		t := b.tabByID(u.Properties.SheetId)
		if t == nil {
			return nil, fmt.Sprintf("updateSheetProperties: No grid with id: %d", u.Properties.SheetId)
		}
		if u.Fields == "" {
			return nil, "updateSheetProperties: fields is required"
		}
		g := u.Properties.GridProperties
		if g == nil {
			g = &sheets.GridProperties{}
		}
		for _, f := range expandFields(u.Fields) {
			switch f {
			case "title":
				if o := b.tabByTitle(u.Properties.Title); o != nil && o != t {
					return nil, fmt.Sprintf("updateSheetProperties: A sheet with the name %q already exists.", u.Properties.Title)
				}
				t.title = u.Properties.Title
			case "gridProperties.frozenRowCount":
				t.frozenRow = int(g.FrozenRowCount)
			case "gridProperties.frozenColumnCount":
				t.frozenCol = int(g.FrozenColumnCount)
			case "gridProperties.rowCount":
				t.rowCount = int(g.RowCount)
			case "gridProperties.columnCount":
				t.colCount = int(g.ColumnCount)
			case "index", "hidden", "tabColor", "tabColorStyle", "rightToLeft":
				// accepted, not modelled
			default:
				return nil, "updateSheetProperties: sheetsfake does not model field " + f
			}
		}
		if t.frozenRow > t.rowCount || t.frozenCol > t.colCount {
			return nil, "updateSheetProperties: frozen rows/columns exceed the grid"
		}
		return &sheets.Response{}, ""
	case rq.UpdateSpreadsheetProperties != nil:
		u := rq.UpdateSpreadsheetProperties
		for _, f := range expandFields(u.Fields) {
			switch f {
			case "timeZone":
				b.timeZone = u.Properties.TimeZone
			case "title":
				b.title = u.Properties.Title
			case "locale":
				b.locale = u.Properties.Locale
			}
		}
		return &sheets.Response{}, ""
	case rq.RepeatCell != nil:
		rc := rq.RepeatCell
		if rc.Range == nil {
			return nil, "repeatCell: range is required"
		}
		t := b.tabByID(rc.Range.SheetId)
		if t == nil {
			return nil, fmt.Sprintf("repeatCell: No grid with id: %d", rc.Range.SheetId)
		}
		r0, r1, c0, c1 := gridBounds(rc.Range)
		if r1 > t.rowCount || c1 > t.colCount {
			return nil, "repeatCell: range exceeds grid limits"
		}
		var f sheets.CellFormat
		if rc.Cell != nil && rc.Cell.UserEnteredFormat != nil {
			f = *rc.Cell.UserEnteredFormat
		}
		t.formats = append(t.formats, formatRule{r0: r0, r1: r1, c0: c0, c1: c1, format: f, fields: rc.Fields})
		return &sheets.Response{}, ""
	case rq.UpdateDimensionProperties != nil, rq.AutoResizeDimensions != nil:
		return &sheets.Response{}, "" // column widths: not modelled
	case rq.AppendDimension != nil:
		a := rq.AppendDimension
		t := b.tabByID(a.SheetId)
		if t == nil {
			return nil, fmt.Sprintf("appendDimension: No grid with id: %d", a.SheetId)
		}
		if a.Length <= 0 {
			return nil, "appendDimension: length must be positive"
		}
		switch a.Dimension {
		case "ROWS":
			t.rowCount += int(a.Length)
		case "COLUMNS":
			t.colCount += int(a.Length)
		default:
			return nil, "appendDimension: dimension must be ROWS or COLUMNS"
		}
		return &sheets.Response{}, ""
	case rq.InsertDimension != nil:
		d := rq.InsertDimension.Range
		t := b.tabByID(d.SheetId)
		if t == nil || d.EndIndex <= d.StartIndex {
			return nil, "insertDimension: bad range"
		}
		n := int(d.EndIndex - d.StartIndex)
		if d.Dimension == "ROWS" {
			t.insertRows(int(d.StartIndex), n)
		} else {
			t.insertCols(int(d.StartIndex), n)
		}
		return &sheets.Response{}, ""
	case rq.DeleteDimension != nil:
		d := rq.DeleteDimension.Range
		t := b.tabByID(d.SheetId)
		if t == nil || d.EndIndex <= d.StartIndex {
			return nil, "deleteDimension: bad range"
		}
		n := int(d.EndIndex - d.StartIndex)
		if d.Dimension == "ROWS" {
			t.deleteRows(int(d.StartIndex), n)
		} else {
			t.deleteCols(int(d.StartIndex), n)
		}
		return &sheets.Response{}, ""
	case rq.DeleteDuplicates != nil:
		return deleteDuplicates(b, rq.DeleteDuplicates)
	}
	return nil, "sheetsfake: this request kind is not implemented"
}

// deleteDuplicates removes, within the range, rows whose values in the
// comparison columns (all columns of the range when none are given) equal
// an earlier row's; the first occurrence scanning downwards stays. Rows
// below move up within the range, as Google's "Remove duplicates" does.
func deleteDuplicates(b *book, d *sheets.DeleteDuplicatesRequest) (*sheets.Response, string) {
	if d.Range == nil {
		return nil, "deleteDuplicates: range is required"
	}
	t := b.tabByID(d.Range.SheetId)
	if t == nil {
		return nil, fmt.Sprintf("deleteDuplicates: No grid with id: %d", d.Range.SheetId)
	}
	r0, r1, c0, c1 := gridBounds(d.Range)
	if r1 < 0 {
		r1 = t.rowCount
	}
	if c1 < 0 {
		c1 = t.colCount
	}
	cols := []int{}
	for _, dr := range d.ComparisonColumns {
		if dr.Dimension != "COLUMNS" {
			return nil, "deleteDuplicates: comparisonColumns must be COLUMNS"
		}
		end := int(dr.EndIndex)
		if end == 0 {
			end = c1
		}
		for c := int(dr.StartIndex); c < end; c++ {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		for c := c0; c < c1; c++ {
			cols = append(cols, c)
		}
	}
	seen := map[string]bool{}
	var keep [][]any
	removed := 0
	for r := r0; r < r1; r++ {
		key := make([]string, len(cols))
		for i, c := range cols {
			// Case-insensitive, as Google's duplicate check is.
			key[i] = strings.ToLower(fmt.Sprintf("%T:%v", normEmpty(t.get(r, c)), normEmpty(t.get(r, c))))
		}
		k := strings.Join(key, "\x00")
		if seen[k] {
			removed++
			continue
		}
		seen[k] = true
		seg := make([]any, c1-c0)
		for c := c0; c < c1; c++ {
			seg[c-c0] = t.get(r, c)
		}
		keep = append(keep, seg)
	}
	for i := 0; i < r1-r0; i++ {
		for c := c0; c < c1; c++ {
			var v any
			if i < len(keep) {
				v = keep[i][c-c0]
			}
			if v != nil || t.get(r0+i, c) != nil {
				t.set(r0+i, c, v)
			}
		}
	}
	return &sheets.Response{DeleteDuplicates: &sheets.DeleteDuplicatesResponse{DuplicatesRemovedCount: int64(removed)}}, ""
}

func normEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// expandFields turns a field mask such as "gridProperties(frozenRowCount,
// frozenColumnCount),title" into dotted paths.
func expandFields(mask string) []string {
	var out []string
	var walk func(prefix, s string)
	walk = func(prefix, s string) {
		depth, start := 0, 0
		emit := func(part string) {
			part = strings.TrimSpace(part)
			if part == "" {
				return
			}
			if i := strings.IndexByte(part, '('); i >= 0 && strings.HasSuffix(part, ")") {
				walk(prefix+part[:i]+".", part[i+1:len(part)-1])
				return
			}
			out = append(out, prefix+part)
		}
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '(':
				depth++
			case ')':
				depth--
			case ',':
				if depth == 0 {
					emit(s[start:i])
					start = i + 1
				}
			}
		}
		emit(s[start:])
	}
	walk("", mask)
	if len(out) == 1 && out[0] == "*" {
		return []string{"title", "gridProperties.frozenRowCount", "gridProperties.frozenColumnCount",
			"gridProperties.rowCount", "gridProperties.columnCount"}
	}
	return out
}
