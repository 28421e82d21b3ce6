package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // the spreadsheet's time zone must load on Windows too, which has no zoneinfo

	"github.com/editkit/editkit/internal/event"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	sheets "google.golang.org/api/sheets/v4"
)

// sheetsSink is the Google Sheets backend.
//
// Exactly once. The Log's "Event ID" column is the record of what was
// written. Every push starts by reading that column and the derived tabs
// (one values.batchGet), appends only the events whose ID is absent, then
// reads again to confirm; only ids seen in a read are reported confirmed
// and removed from the outbox. A write whose outcome is unknown (timeout,
// dropped connection after the request went out, 5xx after applying) is
// therefore never repeated blindly: the next read shows whether it landed.
// Writers never overlap on one event: within a machine the outbox lock
// admits one sender, and an event is born on one machine and queued in
// that machine's outbox only. Appends (values.append with INSERT_ROWS) are
// applied atomically by Google and never overwrite, so two machines
// appending different events at once both land. The one way to have the
// same event sent twice at once — a Rebuild backfilling the Log while the
// machine that made the event is sending it — is repaired by the read that
// follows every write: duplicate IDs are removed with DeleteDuplicates over
// whole rows, a server-side, content-based and idempotent request (two
// editkits issuing it together cannot delete more than the extra copies,
// unlike deleting rows by position), and it only ever removes rows that are
// exact copies of an earlier row, so nothing anyone typed is lost.
//
// Derived tabs (Media, Drives, Backups) are maintained by folding events
// into rows with rules that are idempotent and order-insensitive (latest
// event wins per cell), so re-applying events after an unknown outcome is
// harmless; rows two writers created for the same key at once are merged
// into identical copies and then de-duplicated the same way.
type sheetsSink struct {
	cfg    Config
	id     string
	svc    *sheets.Service
	creds  *credentials
	writes *limiter
	reads  *limiter

	lay *sheetLayout // cached between pushes; nil: read it again

	// okWrites counts writes Google accepted: a round that got some in
	// before a 429 made progress, and must not run down the retry clock.
	okWrites atomic.Int64
}

// sheetLayout is what we know of the spreadsheet's tabs.
type sheetLayout struct {
	loc  *time.Location
	tabs map[string]*tabInfo
	warn []string
}

type tabInfo struct {
	spec   tabSpec
	id     int64
	title  string
	rows   int // grid size
	cols   int
	header []string
}

func newSheetsSink(ctx context.Context, cfg Config, id string) (*sheetsSink, error) {
	creds, err := newCredentials(ctx, cfg)
	if err != nil {
		return nil, err
	}
	opts := []option.ClientOption{option.WithHTTPClient(creds.client), option.WithUserAgent("editkit")}
	if cfg.Endpoint != "" {
		ep := cfg.Endpoint
		if !strings.HasSuffix(ep, "/") {
			ep += "/"
		}
		opts = append(opts, option.WithEndpoint(ep))
	}
	svc, err := sheets.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	return &sheetsSink{
		cfg: cfg, id: id, svc: svc, creds: creds,
		writes: newLimiter(cfg.Clock, cfg.WritesPerMinute),
		reads:  newLimiter(cfg.Clock, cfg.ReadsPerMinute),
	}, nil
}

func quoteTab(name string) string { return "'" + strings.ReplaceAll(name, "'", "''") + "'" }

func colLetters(c int) string {
	var b []byte
	for c++; c > 0; c = (c - 1) / 26 {
		b = append([]byte{byte('A' + (c-1)%26)}, b...)
	}
	return string(b)
}

// read and write make one request, paced by the per-minute limiter and
// bounded by RequestTimeout. They do not retry: the caller's loop re-reads
// the sheet before trying again, which is what makes retries safe.
func (s *sheetsSink) read(ctx context.Context, fn func(context.Context) error) error {
	return s.call(ctx, s.reads, fn)
}

func (s *sheetsSink) write(ctx context.Context, fn func(context.Context) error) error {
	return s.call(ctx, s.writes, fn)
}

func (s *sheetsSink) call(ctx context.Context, l *limiter, fn func(context.Context) error) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	err := fn(cctx)
	if err == nil && l == s.writes {
		s.okWrites.Add(1)
	}
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from Google Sheets within %s: %w", s.cfg.RequestTimeout, err)
	}
	return err
}

// retry runs step until it reports done, sleeping between failures:
// truncated exponential back-off honouring Retry-After for quota and
// server errors (for up to RetryFor without progress), a few quick tries
// when the network is down, one re-read of the layout when a tab or
// column went away.
func (s *sheetsSink) retry(ctx context.Context, step func(context.Context) (done, progressed bool, err error)) error {
	bo := newBackoff()
	deadline := s.cfg.Clock.Now().Add(s.cfg.RetryFor)
	offline, relayout, idle, attempts := 0, 0, 0, 0
	for {
		before := s.okWrites.Load()
		done, progressed, err := step(ctx)
		if err == nil && done {
			return nil
		}
		progressed = progressed || s.okWrites.Load() > before
		if progressed {
			bo.reset()
			deadline = s.cfg.Clock.Now().Add(s.cfg.RetryFor)
			offline, attempts = 0, 0
		}
		if err == nil {
			// More to do (a confirming read, the next chunk); guard
			// against a plan that never settles.
			if idle++; idle > 20 {
				return errors.New("the tracker's tabs did not settle after 20 rounds of writes (is someone editing them heavily?)")
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cls, ra := classify(err)
		var wait time.Duration
		switch cls {
		case classTransient:
			wait = bo.next(ra)
			if s.cfg.Clock.Now().Add(wait).After(deadline) {
				return err
			}
			s.cfg.Logger.Info("tracker: Google Sheets request failed, retrying", "in", wait, "error", describe(err))
		case classOffline:
			if offline++; offline >= 3 {
				return err
			}
			wait = bo.next(0)
		case classLayout:
			if relayout++; relayout > 2 {
				return err
			}
			s.lay = nil // someone renamed or deleted a tab: look again
		default:
			return err
		}
		if s.cfg.OnRetry != nil && cls != classLayout {
			attempts++
			s.cfg.OnRetry(attempts+1, wait, describe(err))
		}
		if err := s.cfg.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (s *sheetsSink) init(ctx context.Context) error {
	err := s.retry(ctx, func(ctx context.Context) (bool, bool, error) {
		s.lay = nil
		return true, false, s.ensureLayout(ctx)
	})
	if err != nil {
		return s.notSent(err).asError()
	}
	return nil
}

// ensureLayout reads the spreadsheet's tabs and headers and creates or
// completes what is missing: tabs, header cells, frozen header row,
// formats of the columns it adds. What exists is adopted as is; nothing is
// removed, moved or reformatted, so running it again writes nothing.
func (s *sheetsSink) ensureLayout(ctx context.Context) error {
	if s.lay != nil {
		return nil
	}
	var ss *sheets.Spreadsheet
	err := s.read(ctx, func(ctx context.Context) (err error) {
		ss, err = s.svc.Spreadsheets.Get(s.id).Fields("properties(title,timeZone),sheets.properties").Context(ctx).Do()
		return err
	})
	if err != nil {
		return err
	}
	lay := &sheetLayout{tabs: map[string]*tabInfo{}}
	lay.loc = time.UTC
	if ss.Properties != nil && ss.Properties.TimeZone != "" {
		if loc, err := time.LoadLocation(ss.Properties.TimeZone); err == nil {
			lay.loc = loc
		} else {
			lay.warn = append(lay.warn, fmt.Sprintf("the spreadsheet's time zone %q is unknown here; times are written in UTC", ss.Properties.TimeZone))
		}
	}
	existing := map[string]*sheets.SheetProperties{}
	for _, sh := range ss.Sheets {
		if sh.Properties != nil {
			existing[strings.ToLower(sh.Properties.Title)] = sh.Properties
		}
	}

	// Tabs: add the missing ones, freeze the header row of ours.
	var reqs []*sheets.Request
	for _, spec := range layout() {
		p := existing[strings.ToLower(spec.name)]
		if p == nil {
			reqs = append(reqs, &sheets.Request{AddSheet: &sheets.AddSheetRequest{Properties: &sheets.SheetProperties{
				Title: spec.name,
				GridProperties: &sheets.GridProperties{RowCount: 1000, ColumnCount: int64(max(26, len(spec.cols))),
					FrozenRowCount: 1, FrozenColumnCount: int64(spec.frozenCols)},
			}}})
			continue
		}
		if p.GridProperties != nil && p.GridProperties.FrozenRowCount == 0 {
			reqs = append(reqs, &sheets.Request{UpdateSheetProperties: &sheets.UpdateSheetPropertiesRequest{
				Properties: &sheets.SheetProperties{SheetId: p.SheetId,
					GridProperties: &sheets.GridProperties{FrozenRowCount: 1}},
				Fields: "gridProperties.frozenRowCount",
			}})
		}
	}
	if len(reqs) > 0 {
		var resp *sheets.BatchUpdateSpreadsheetResponse
		err := s.write(ctx, func(ctx context.Context) (err error) {
			resp, err = s.svc.Spreadsheets.BatchUpdate(s.id, &sheets.BatchUpdateSpreadsheetRequest{Requests: reqs}).Context(ctx).Do()
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range resp.Replies {
			if r != nil && r.AddSheet != nil && r.AddSheet.Properties != nil {
				existing[strings.ToLower(r.AddSheet.Properties.Title)] = r.AddSheet.Properties
			}
		}
	}
	for _, spec := range layout() {
		p := existing[strings.ToLower(spec.name)]
		if p == nil {
			return fmt.Errorf("tab %s was not created", spec.name)
		}
		ti := &tabInfo{spec: spec, id: p.SheetId, title: p.Title}
		if g := p.GridProperties; g != nil {
			ti.rows, ti.cols = int(g.RowCount), int(g.ColumnCount)
		}
		lay.tabs[spec.name] = ti
	}

	// Headers: read row 1 of each tab, add our missing columns at the end.
	var ranges []string
	for _, spec := range layout() {
		ranges = append(ranges, quoteTab(lay.tabs[spec.name].title)+"!1:1")
	}
	var got *sheets.BatchGetValuesResponse
	err = s.read(ctx, func(ctx context.Context) (err error) {
		got, err = s.svc.Spreadsheets.Values.BatchGet(s.id).Ranges(ranges...).
			ValueRenderOption("UNFORMATTED_VALUE").MajorDimension("ROWS").Context(ctx).Do()
		return err
	})
	if err != nil {
		return err
	}
	var fmtReqs []*sheets.Request
	var headerData []*sheets.ValueRange
	for i, spec := range layout() {
		ti := lay.tabs[spec.name]
		var hdr []string
		if i < len(got.ValueRanges) && len(got.ValueRanges[i].Values) > 0 {
			for _, v := range got.ValueRanges[i].Values[0] {
				hdr = append(hdr, cellString(v))
			}
		}
		t := &table{header: hdr}
		added := t.ensureColumns(spec)
		ti.header = t.header
		if len(added) == 0 {
			continue
		}
		kinds := columnKinds{}
		for _, c := range added {
			for _, col := range spec.cols {
				if col.name == t.header[c] {
					kinds[c] = col.kind
				}
			}
		}
		fmtReqs = append(fmtReqs, s.columnRequests(ti, added, kinds)...)
		headerData = append(headerData, headerCells(ti, added))
	}
	if len(fmtReqs) > 0 {
		if err := s.batchUpdate(ctx, fmtReqs); err != nil {
			return err
		}
		if err := s.write(ctx, func(ctx context.Context) error {
			_, err := s.svc.Spreadsheets.Values.BatchUpdate(s.id, &sheets.BatchUpdateValuesRequest{
				ValueInputOption: "RAW", Data: headerData}).Context(ctx).Do()
			return err
		}); err != nil {
			return err
		}
	}
	s.lay = lay
	return nil
}

// headerCells writes the names of added columns into row 1.
func headerCells(ti *tabInfo, added []int) *sheets.ValueRange {
	lo, hi := added[0], added[0]
	for _, c := range added {
		lo, hi = min(lo, c), max(hi, c)
	}
	row := make([]any, hi-lo+1)
	for _, c := range added {
		row[c-lo] = ti.header[c]
	}
	return &sheets.ValueRange{
		Range:  quoteTab(ti.title) + "!" + colLetters(lo) + "1:" + colLetters(hi) + "1",
		Values: [][]any{row},
	}
}

// columnRequests grows the grid to hold the header and formats the added
// columns: bold header cells, dates as yyyy-mm-dd hh:mm:ss, sizes in
// kB/MB/GB (the cell keeps the exact byte count).
func (s *sheetsSink) columnRequests(ti *tabInfo, added []int, kinds columnKinds) []*sheets.Request {
	var reqs []*sheets.Request
	if need := len(ti.header) - ti.cols; need > 0 {
		reqs = append(reqs, &sheets.Request{AppendDimension: &sheets.AppendDimensionRequest{
			SheetId: ti.id, Dimension: "COLUMNS", Length: int64(need)}})
		ti.cols += need
	}
	for _, c := range added {
		reqs = append(reqs, &sheets.Request{RepeatCell: &sheets.RepeatCellRequest{
			Range: &sheets.GridRange{SheetId: ti.id, StartRowIndex: 0, EndRowIndex: 1,
				StartColumnIndex: int64(c), EndColumnIndex: int64(c + 1)},
			Cell:   &sheets.CellData{UserEnteredFormat: &sheets.CellFormat{TextFormat: &sheets.TextFormat{Bold: true}}},
			Fields: "userEnteredFormat.textFormat.bold",
		}})
		var nf *sheets.NumberFormat
		switch kinds[c] {
		case kTime:
			nf = &sheets.NumberFormat{Type: "DATE_TIME", Pattern: "yyyy-mm-dd hh:mm:ss"}
		case kDrive:
			nf = &sheets.NumberFormat{Type: "DATE_TIME", Pattern: "yyyy-mm-dd hh:mm"}
		case kSize:
			// Decimal units, as Finder and Explorer's "size on disk"
			// columns people compare against; the cell holds bytes.
			nf = &sheets.NumberFormat{Type: "NUMBER", Pattern: `[<1000000]0.0," kB";[<1000000000]0.0,," MB";0.00,,," GB"`}
		}
		if nf != nil {
			reqs = append(reqs, &sheets.Request{RepeatCell: &sheets.RepeatCellRequest{
				Range: &sheets.GridRange{SheetId: ti.id, StartRowIndex: 1,
					StartColumnIndex: int64(c), EndColumnIndex: int64(c + 1)},
				Cell:   &sheets.CellData{UserEnteredFormat: &sheets.CellFormat{NumberFormat: nf}},
				Fields: "userEnteredFormat.numberFormat",
			}})
		}
	}
	return reqs
}

// sheetState is one read of what the push needs.
type sheetState struct {
	ids     map[string]int // Log event id → occurrences
	tables  map[string]*table
	dupRows map[string][]int // Log event id → its sheet rows (1-based), for ids seen twice
	logRows int              // rows of the Log's ID column below the header
}

// readState reads the Log's header and ID column and the derived tabs
// whole, in one request. It returns errLayoutChanged when the Log's
// columns are not where the cached layout says.
func (s *sheetsSink) readState(ctx context.Context, derived bool) (*sheetState, error) {
	logTab := s.lay.tabs[tabLog]
	idCol := (&table{header: logTab.header}).col(colEventID)
	letter := colLetters(idCol)
	ranges := []string{
		quoteTab(logTab.title) + "!1:1",
		quoteTab(logTab.title) + "!" + letter + ":" + letter,
	}
	var names []string
	if derived {
		for _, v := range views() {
			names = append(names, v.spec().name)
			ranges = append(ranges, quoteTab(s.lay.tabs[v.spec().name].title))
		}
	}
	var got *sheets.BatchGetValuesResponse
	err := s.read(ctx, func(ctx context.Context) (err error) {
		got, err = s.svc.Spreadsheets.Values.BatchGet(s.id).Ranges(ranges...).
			ValueRenderOption("UNFORMATTED_VALUE").DateTimeRenderOption("SERIAL_NUMBER").
			MajorDimension("ROWS").Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(got.ValueRanges) != len(ranges) {
		return nil, fmt.Errorf("Google Sheets returned %d ranges for %d asked", len(got.ValueRanges), len(ranges))
	}
	var hdr []string
	if v := got.ValueRanges[0].Values; len(v) > 0 {
		for _, c := range v[0] {
			hdr = append(hdr, cellString(c))
		}
	}
	if !sameHeader(hdr, logTab.header) {
		// Someone inserted, moved or renamed a Log column: rows must be
		// aligned to the header as it is now.
		return nil, errLayoutChanged
	}
	st := &sheetState{ids: map[string]int{}, tables: map[string]*table{}}
	idRows := got.ValueRanges[1].Values
	for i, row := range idRows {
		if i == 0 || len(row) == 0 {
			continue
		}
		if id := strings.TrimSpace(cellString(row[0])); id != "" {
			st.ids[id]++
		}
	}
	st.logRows = max(len(idRows)-1, 0)
	for i, row := range idRows {
		if i == 0 || len(row) == 0 {
			continue
		}
		if id := strings.TrimSpace(cellString(row[0])); st.ids[id] > 1 {
			if st.dupRows == nil {
				st.dupRows = map[string][]int{}
			}
			st.dupRows[id] = append(st.dupRows[id], i+1)
		}
	}
	for i, name := range names {
		vals := got.ValueRanges[2+i].Values
		t := &table{}
		for r, row := range vals {
			if r == 0 {
				for _, c := range row {
					t.header = append(t.header, cellString(c))
				}
				continue
			}
			t.rows = append(t.rows, append([]any(nil), row...))
		}
		st.tables[name] = t
	}
	return st, nil
}

func sameHeader(a, b []string) bool {
	trim := func(h []string) []string {
		for len(h) > 0 && strings.TrimSpace(h[len(h)-1]) == "" {
			h = h[:len(h)-1]
		}
		return h
	}
	a, b = trim(a), trim(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if normHeader(a[i]) != normHeader(b[i]) {
			return false
		}
	}
	return true
}

// errLayoutChanged is a 400-like condition found by us: re-read the layout.
var errLayoutChanged = &googleapi.Error{Code: 400, Message: "the tracker's Log columns moved since editkit last looked"}

func (s *sheetsSink) push(ctx context.Context, evs []event.Event) (pushResult, error) {
	return s.pushWith(ctx, evs, true)
}

// pushWith makes evs present in the Log exactly once and, with derived,
// folded into the derived tabs. Each round reads the state and writes what
// is missing; it ends with a read that finds nothing to write.
func (s *sheetsSink) pushWith(ctx context.Context, evs []event.Event, derived bool) (pushResult, error) {
	p := &pushRounds{s: s, evs: evs, derived: derived, firstRead: true,
		pr: pushResult{confirmed: map[string]bool{}}, derivedDedups: map[string]int{}, warned: map[string]bool{}}
	err := s.retry(ctx, p.round)
	p.pr.written = len(p.pr.confirmed) - p.pr.already
	return p.pr, err
}

// pushRounds is the state one push keeps across its rounds: which events
// the Log was seen to hold, the warnings given, and how often each derived
// tab's duplicates were resolved.
type pushRounds struct {
	s             *sheetsSink
	evs           []event.Event
	derived       bool
	firstRead     bool
	pr            pushResult
	derivedDedups map[string]int
	warned        map[string]bool
}

// tabEdit is what a round changes in one derived tab.
type tabEdit struct {
	ti    *tabInfo
	ed    *edit
	kinds columnKinds
}

func (p *pushRounds) warn(w string) {
	if !p.warned[w] {
		p.warned[w] = true
		p.pr.warnings = append(p.pr.warnings, w)
	}
}

// round reads the sheet and writes what it lacks: new columns, changed
// cells, missing rows, then removes exact duplicates. It is done when a
// read finds nothing to write.
func (p *pushRounds) round(ctx context.Context) (done, progressed bool, err error) {
	s := p.s
	if err := s.ensureLayout(ctx); err != nil {
		return false, false, err
	}
	for _, w := range s.lay.warn {
		p.warn(w)
	}
	st, err := s.readState(ctx, p.derived)
	if err != nil {
		return false, false, err
	}
	missing, progressed := p.confirm(st)
	dupLog, err := p.checkDuplicateLog(ctx, st)
	if err != nil {
		return false, progressed, err
	}
	codec := sheetsCodec{loc: s.lay.loc}
	edits := p.derivedEdits(st, codec)
	if len(missing) == 0 && len(edits) == 0 && !dupLog {
		return true, progressed, nil
	}
	if err := p.growColumns(ctx, edits); err != nil {
		return false, progressed, err
	}
	if err := p.writeChangedCells(ctx, edits); err != nil {
		return false, progressed, err
	}
	logRows, err := p.appendRows(ctx, missing, edits, codec)
	if err != nil {
		return false, progressed, err
	}
	if err := p.removeDuplicates(ctx, st, dupLog, logRows, edits); err != nil {
		return false, progressed, err
	}
	// Not done: the next round reads back to confirm.
	return false, true, nil
}

// confirm notes the events the Log holds and returns those it lacks, and
// whether this round confirmed any new one.
func (p *pushRounds) confirm(st *sheetState) (missing []event.Event, progressed bool) {
	before := len(p.pr.confirmed)
	for _, e := range p.evs {
		if st.ids[e.ID] > 0 {
			if !p.pr.confirmed[e.ID] {
				p.pr.confirmed[e.ID] = true
				if p.firstRead {
					p.pr.already++
				}
			}
		} else {
			missing = append(missing, e)
		}
	}
	p.firstRead = false
	return missing, len(p.pr.confirmed) > before
}

// checkDuplicateLog reports whether the Log has duplicate ids that can be
// removed (see the type's comment for when they appear): removable when
// the copies are identical, as two writers' rows for one event are.
func (p *pushRounds) checkDuplicateLog(ctx context.Context, st *sheetState) (bool, error) {
	if len(st.dupRows) == 0 {
		return false, nil
	}
	same, differ, err := p.s.compareDuplicates(ctx, st.dupRows)
	if err != nil {
		return false, err
	}
	for _, id := range differ {
		p.warn(fmt.Sprintf("event %s appears more than once in the Log and the copies differ (edited by hand?); editkit left them: delete the extra row", id))
	}
	return same > 0, nil
}

// derivedEdits folds every pending event into the derived tabs
// (idempotent) and returns the tabs that change.
func (p *pushRounds) derivedEdits(st *sheetState, codec sheetsCodec) []tabEdit {
	if !p.derived {
		return nil
	}
	var edits []tabEdit
	for _, v := range views() {
		name := v.spec().name
		ed, kinds := update(st.tables[name], v, p.evs, codec)
		if ed.dupsResolved && p.derivedDedups[name] >= 3 {
			p.warn(fmt.Sprintf("the %s tab has two rows for the same item that differ in a way editkit cannot merge; editkit left them", name))
			ed.dupsResolved = false
		}
		if !ed.empty() {
			edits = append(edits, tabEdit{ti: p.s.lay.tabs[name], ed: ed, kinds: kinds})
		}
	}
	return edits
}

// growColumns adds the grid and formats of columns the derived tabs gained.
func (p *pushRounds) growColumns(ctx context.Context, edits []tabEdit) error {
	s := p.s
	var structural []*sheets.Request
	for _, te := range edits {
		if len(te.ed.headerAdded) > 0 {
			te.ti.header = te.ed.t.header
			structural = append(structural, s.columnRequests(te.ti, te.ed.headerAdded, te.kinds)...)
		}
	}
	if len(structural) == 0 {
		return nil
	}
	if err := s.batchUpdate(ctx, structural); err != nil {
		s.lay = nil // the grid size we assumed may be wrong now
		return err
	}
	return nil
}

// writeChangedCells writes the changed cells of existing rows and new
// header cells: values.batchUpdate for all tabs at once, in chunks (null
// leaves a cell alone).
func (p *pushRounds) writeChangedCells(ctx context.Context, edits []tabEdit) error {
	s := p.s
	var data []*sheets.ValueRange
	for _, te := range edits {
		if len(te.ed.headerAdded) > 0 {
			data = append(data, headerCells(te.ti, te.ed.headerAdded))
		}
		rows := make([]int, 0, len(te.ed.changed))
		for r := range te.ed.changed {
			rows = append(rows, r)
		}
		sort.Ints(rows)
		for _, r := range rows {
			data = append(data, changedRange(te, r))
		}
	}
	for len(data) > 0 {
		chunk := data[:min(len(data), 5*s.cfg.RowsPerRequest)]
		data = data[len(chunk):]
		if err := s.write(ctx, func(ctx context.Context) error {
			_, err := s.svc.Spreadsheets.Values.BatchUpdate(s.id, &sheets.BatchUpdateValuesRequest{
				ValueInputOption: "RAW", Data: chunk}).Context(ctx).Do()
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// changedRange is the span of row r's changed cells in one tab.
func changedRange(te tabEdit, r int) *sheets.ValueRange {
	cols := te.ed.changed[r]
	lo, hi := -1, -1
	for c := range cols {
		if lo < 0 || c < lo {
			lo = c
		}
		hi = max(hi, c)
	}
	vals := make([]any, hi-lo+1)
	for c := range cols {
		vals[c-lo] = te.ed.t.cell(r, c)
	}
	return &sheets.ValueRange{
		Range:  quoteTab(te.ti.title) + "!" + colLetters(lo) + strconv.Itoa(r+2) + ":" + colLetters(hi) + strconv.Itoa(r+2),
		Values: [][]any{vals},
	}
}

// appendRows appends Log rows for the missing events, then the derived
// tabs' new rows, in batches of RowsPerRequest; it returns the Log rows
// appended.
func (p *pushRounds) appendRows(ctx context.Context, missing []event.Event, edits []tabEdit, codec sheetsCodec) (int, error) {
	s := p.s
	logTab := s.lay.tabs[tabLog]
	var logRows [][]any
	sort.Slice(missing, func(i, j int) bool { return missing[i].ID < missing[j].ID })
	logHeader := &table{header: logTab.header}
	for _, e := range missing {
		logRows = append(logRows, logHeader.align(logCells(e, codec)))
	}
	if err := s.appendRows(ctx, logTab, logRows); err != nil {
		return 0, err
	}
	for _, te := range edits {
		if err := s.appendRows(ctx, te.ti, padRows(te.ed.t.rows[te.ed.origRows:], len(te.ed.t.header))); err != nil {
			return len(logRows), err
		}
	}
	return len(logRows), nil
}

// removeDuplicates removes exact duplicate rows, now that merged copies
// match.
func (p *pushRounds) removeDuplicates(ctx context.Context, st *sheetState, dupLog bool, logRows int, edits []tabEdit) error {
	var dedup []*sheets.Request
	if dupLog {
		dedup = append(dedup, dedupRequest(p.s.lay.tabs[tabLog], st.logRows+logRows))
	}
	for _, te := range edits {
		if te.ed.dupsResolved {
			p.derivedDedups[te.ti.spec.name]++
			dedup = append(dedup, dedupRequest(te.ti, len(te.ed.t.rows)))
		}
	}
	if len(dedup) == 0 {
		return nil
	}
	return p.s.batchUpdate(ctx, dedup)
}

// batchUpdate sends one spreadsheets.batchUpdate of requests as a write.
func (s *sheetsSink) batchUpdate(ctx context.Context, requests []*sheets.Request) error {
	return s.write(ctx, func(ctx context.Context) error {
		_, err := s.svc.Spreadsheets.BatchUpdate(s.id, &sheets.BatchUpdateSpreadsheetRequest{Requests: requests}).Context(ctx).Do()
		return err
	})
}

// compareDuplicates reads the Log rows of duplicated ids (at most 50 ids
// a round) and sorts the ids into those whose copies are identical — which
// DeleteDuplicates will remove — and those someone made differ.
func (s *sheetsSink) compareDuplicates(ctx context.Context, dupRows map[string][]int) (same int, differ []string, err error) {
	logTab := s.lay.tabs[tabLog]
	last := colLetters(max(len(logTab.header), 1) - 1)
	ids := make([]string, 0, len(dupRows))
	for id := range dupRows {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ids = ids[:min(len(ids), 50)]
	var ranges []string
	for _, id := range ids {
		for _, r := range dupRows[id] {
			ranges = append(ranges, fmt.Sprintf("%s!A%d:%s%d", quoteTab(logTab.title), r, last, r))
		}
	}
	var got *sheets.BatchGetValuesResponse
	err = s.read(ctx, func(ctx context.Context) (err error) {
		got, err = s.svc.Spreadsheets.Values.BatchGet(s.id).Ranges(ranges...).
			ValueRenderOption("UNFORMATTED_VALUE").MajorDimension("ROWS").Context(ctx).Do()
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	k := 0
	for _, id := range ids {
		var first string
		identical := true
		for i := range dupRows[id] {
			var row []any
			if k < len(got.ValueRanges) && len(got.ValueRanges[k].Values) > 0 {
				row = got.ValueRanges[k].Values[0]
			}
			k++
			text := fmt.Sprintf("%q", anyTexts(row))
			if i == 0 {
				first = text
			} else if text != first {
				identical = false
			}
		}
		if identical {
			same++
		} else {
			differ = append(differ, id)
		}
	}
	return same, differ, nil
}

func anyTexts(row []any) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = cellString(v)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// dedupRequest removes, among data rows 2..rows+1, those that are exact
// copies of an earlier row. Comparing whole rows is deliberate: only a row
// that carries nothing its twin does not is removed. The range stops at
// the rows known to hold data, so the empty grid below is left alone.
func dedupRequest(ti *tabInfo, rows int) *sheets.Request {
	return &sheets.Request{DeleteDuplicates: &sheets.DeleteDuplicatesRequest{
		Range: &sheets.GridRange{SheetId: ti.id, StartRowIndex: 1, EndRowIndex: int64(rows) + 1},
	}}
}

// appendRows appends rows after the tab's table. INSERT_ROWS inserts new
// rows rather than writing over whatever follows, so nothing is
// overwritten even if someone typed below the table.
func (s *sheetsSink) appendRows(ctx context.Context, ti *tabInfo, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	rng := quoteTab(ti.title) + "!A:" + colLetters(max(len(ti.header), 1)-1)
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), s.cfg.RowsPerRequest)]
		rows = rows[len(chunk):]
		if err := s.write(ctx, func(ctx context.Context) error {
			_, err := s.svc.Spreadsheets.Values.Append(s.id, rng, &sheets.ValueRange{MajorDimension: "ROWS", Values: chunk}).
				ValueInputOption("RAW").InsertDataOption("INSERT_ROWS").IncludeValuesInResponse(false).Context(ctx).Do()
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// alignRow places named cells under their headers; other columns are left
// alone (null).
func alignRow(header []string, cells map[string]any) []any {
	return (&table{header: header}).align(cells)
}

func padRows(rows [][]any, width int) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		row := make([]any, width)
		copy(row, r)
		out[i] = row
	}
	return out
}

// rebuild backfills the Log with events missing from it, then rewrites the
// derived tabs from the whole log, keeping the user's own columns of rows
// that still exist.
func (s *sheetsSink) rebuild(ctx context.Context, all []event.Event) error {
	if _, err := s.pushWith(ctx, all, false); err != nil {
		return s.notSent(err).asError()
	}
	err := s.retry(ctx, func(ctx context.Context) (bool, bool, error) {
		if err := s.ensureLayout(ctx); err != nil {
			return false, false, err
		}
		st, err := s.readState(ctx, true)
		if err != nil {
			return false, false, err
		}
		codec := sheetsCodec{loc: s.lay.loc}
		var structural []*sheets.Request
		var data []*sheets.ValueRange
		for _, v := range views() {
			name := v.spec().name
			ti := s.lay.tabs[name]
			old := st.tables[name]
			fresh := rebuilt(old, v, all, codec)
			if len(fresh.header) > len(old.header) {
				var added []int
				kinds := columnKinds{}
				for c := len(old.header); c < len(fresh.header); c++ {
					added = append(added, c)
					kinds[c] = kDrive
					for _, col := range v.spec().cols {
						if col.name == fresh.header[c] {
							kinds[c] = col.kind
						}
					}
				}
				ti.header = fresh.header
				structural = append(structural, s.columnRequests(ti, added, kinds)...)
				data = append(data, headerCells(ti, added))
			}
			n := max(len(fresh.rows), len(old.rows))
			if need := n + 1 - ti.rows; need > 0 {
				structural = append(structural, &sheets.Request{AppendDimension: &sheets.AppendDimensionRequest{
					SheetId: ti.id, Dimension: "ROWS", Length: int64(need)}})
				ti.rows += need
			}
			width := max(len(fresh.header), len(old.header))
			// Rewrite every data row; rows past the new end are blanked.
			for start := 0; start < n; start += s.cfg.RowsPerRequest {
				end := min(n, start+s.cfg.RowsPerRequest)
				vals := make([][]any, 0, end-start)
				for r := start; r < end; r++ {
					row := make([]any, width)
					for c := range row {
						v := fresh.cell(r, c)
						if v == nil {
							v = ""
						}
						row[c] = v
					}
					vals = append(vals, row)
				}
				data = append(data, &sheets.ValueRange{
					Range:  quoteTab(ti.title) + "!A" + strconv.Itoa(start+2) + ":" + colLetters(width-1) + strconv.Itoa(end+1),
					Values: vals,
				})
			}
		}
		if len(structural) > 0 {
			if err := s.batchUpdate(ctx, structural); err != nil {
				s.lay = nil
				return false, false, err
			}
		}
		for _, d := range data {
			if err := s.write(ctx, func(ctx context.Context) error {
				_, err := s.svc.Spreadsheets.Values.BatchUpdate(s.id, &sheets.BatchUpdateValuesRequest{
					ValueInputOption: "RAW", Data: []*sheets.ValueRange{d}}).Context(ctx).Do()
				return err
			}); err != nil {
				return false, false, err
			}
		}
		return true, true, nil
	})
	if err != nil {
		return s.notSent(err).asError()
	}
	return nil
}

// asError returns the explanation as an error for calls that fail (Init,
// Rebuild) rather than queue.
func (e *NotSentError) asError() error {
	return &setupError{e}
}

// setupError words a NotSentError for calls with nothing queued.
type setupError struct{ e *NotSentError }

func (s *setupError) Error() string {
	msg := "tracker: " + s.e.Reason
	if s.e.Hint != "" {
		msg += "; " + s.e.Hint
	}
	return msg
}

func (s *setupError) Unwrap() error { return s.e.Err }

// notSent explains an error for the user: what happened and what to do.
func (s *sheetsSink) notSent(err error) *NotSentError {
	ns := &NotSentError{Err: err, Reason: describe(err)}
	cls, _ := classify(err)
	who := s.creds.who()
	sheet := "the Google Sheet " + s.id
	switch cls {
	case classTransient:
		ns.Temporary = true
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && gerr.Code == 429 {
			ns.Reason = "Google Sheets is limiting how fast editkit may write (per-minute quota)"
			ns.Hint = "nothing to do: they are sent when the quota allows"
		} else if errors.As(err, &gerr) {
			ns.Reason = fmt.Sprintf("Google Sheets had a server error (%d)", gerr.Code)
		} else {
			// Not the url.Error's text: it repeats the whole request URL.
			var uerr *url.Error
			cause := err
			if errors.As(err, &uerr) {
				cause = uerr.Err
			}
			what := cause.Error()
			if errors.Is(cause, io.EOF) || errors.Is(cause, io.ErrUnexpectedEOF) {
				what = "the connection was dropped"
			}
			ns.Reason = "the connection to Google Sheets failed (" + what + ")"
		}
	case classOffline:
		ns.Temporary = true
		ns.Reason = "cannot reach Google Sheets (offline?)"
	case classAuth:
		ns.Reason, ns.Hint = s.creds.authTrouble(err)
	case classAccess:
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && strings.Contains(gerr.Message, "scope") {
			ns.Reason = who + " may not use Google Sheets (the credentials lack the spreadsheets scope)"
			ns.Hint = "run `editkit tracker login` again and allow access to Google Sheets"
		} else {
			ns.Reason = fmt.Sprintf("%s has no access to %s", who, sheet)
			ns.Hint = fmt.Sprintf("share the sheet with %s as Editor (Share button, top right of the sheet)", s.creds.shareWith())
		}
	case classNotFound:
		ns.Reason = fmt.Sprintf("there is no spreadsheet with ID %s (or it was deleted)", s.id)
		ns.Hint = "check the tracker's spreadsheet setting: the ID is the part after /d/ in the sheet's address"
	}
	return ns
}
