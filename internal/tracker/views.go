package tracker

import (
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/event"
)

// table is a tab (or CSV file) as read: its header row and data rows.
type table struct {
	header []string
	rows   [][]any

	// Caches of header lookups, rebuilt when the header grows (it only
	// ever grows): a 2 000-event push looks columns up a million times.
	idx    map[string]int // normalised header → first column
	byName map[string]int // lookups as asked → column (or -1)
	canon  []string       // column → name in records
	spec   string         // the spec canon was made for
	built  int            // header length the caches were built for
}

func (t *table) index() map[string]int {
	if t.idx == nil || t.built != len(t.header) {
		t.built = len(t.header)
		t.idx = make(map[string]int, len(t.header))
		for i, h := range t.header {
			if k := normHeader(h); k != "" {
				if _, dup := t.idx[k]; !dup {
					t.idx[k] = i
				}
			}
		}
		t.canon, t.byName = nil, map[string]int{}
	}
	return t.idx
}

func (t *table) col(name string) int {
	idx := t.index()
	if c, ok := t.byName[name]; ok {
		return c
	}
	c, ok := idx[normHeader(name)]
	if !ok {
		c = -1
	}
	t.byName[name] = c
	return c
}

// names returns, per column, the name records use: the spec's canonical
// name for its columns whatever their case in the sheet, the header as
// written for the others.
func (t *table) names(spec tabSpec) []string {
	t.index()
	if t.canon != nil && t.spec == spec.name {
		return t.canon
	}
	canon := make([]string, len(t.header))
	byNorm := map[string]string{}
	for _, c := range spec.cols {
		byNorm[normHeader(c.name)] = c.name
	}
	for i, h := range t.header {
		if n, ok := byNorm[normHeader(h)]; ok {
			canon[i] = n
		} else {
			canon[i] = h
		}
	}
	t.canon, t.spec = canon, spec.name
	return canon
}

// addColumn appends a header and returns its index.
func (t *table) addColumn(name string) int {
	t.header = append(t.header, name)
	return len(t.header) - 1
}

func (t *table) cell(row, col int) any {
	if col < 0 || row >= len(t.rows) || col >= len(t.rows[row]) {
		return nil
	}
	return t.rows[row][col]
}

func (t *table) setCell(row, col int, v any) {
	r := t.rows[row]
	for len(r) <= col {
		r = append(r, nil)
	}
	r[col] = v
	t.rows[row] = r
}

// align places cells, named by column, in a row of t's columns (a cell of
// no column is dropped). Column lookups are cached on t, so aligning many
// rows normalises the header once.
func (t *table) align(cells map[string]any) []any {
	row := make([]any, len(t.header))
	for name, v := range cells {
		if i := t.col(name); i >= 0 {
			row[i] = v
		}
	}
	return row
}

// ensureColumns adds the spec's missing columns at the end (never moving
// or removing the user's) and reports which were added.
func (t *table) ensureColumns(spec tabSpec) (added []int) {
	for _, c := range spec.cols {
		if t.col(c.name) < 0 {
			added = append(added, t.addColumn(c.name))
		}
	}
	return added
}

// edit records what an update changed in a table, so the Sheets tracker
// writes only those cells and the CSV tracker knows whether to rewrite.
type edit struct {
	t            *table
	origRows     int                  // rows before; t.rows[origRows:] are new
	changed      map[int]map[int]bool // existing row → changed columns
	headerAdded  []int                // new columns
	dupsResolved bool                 // duplicate rows were made identical
}

func newEdit(t *table) *edit {
	return &edit{t: t, origRows: len(t.rows), changed: map[int]map[int]bool{}}
}

func (e *edit) empty() bool {
	return len(e.changed) == 0 && len(e.headerAdded) == 0 && len(e.t.rows) == e.origRows && !e.dupsResolved
}

// onlyAddsRows tells whether the edit adds rows and changes nothing else.
func (e *edit) onlyAddsRows() bool {
	return len(e.changed) == 0 && len(e.headerAdded) == 0 && !e.dupsResolved && len(e.t.rows) > e.origRows
}

func (e *edit) set(row, col int, v any) {
	if sameCell(e.t.cell(row, col), v) {
		return
	}
	e.t.setCell(row, col, v)
	if row < e.origRows {
		if e.changed[row] == nil {
			e.changed[row] = map[int]bool{}
		}
		e.changed[row][col] = true
	}
}

func (e *edit) column(name string, k kind, added map[int]kind) int {
	if c := e.t.col(name); c >= 0 {
		return c
	}
	c := e.t.addColumn(name)
	e.headerAdded = append(e.headerAdded, c)
	if added != nil {
		added[c] = k
	}
	return c
}

// record is one derived row by column name; view code reads and writes
// it, the driver maps names to cells.
type record map[string]any

// view is one derived tab: how events map to rows and how rows merge.
type view interface {
	spec() tabSpec
	// key names the row an event affects, "" for none.
	key(e event.Event) string
	// rowKey is the key of an existing row.
	rowKey(r record, c codec) string
	// apply folds an event into a row (a record of the row's current
	// cells by column name; empty for a new row, which apply fills,
	// key columns included). It must be idempotent — applying an event a
	// row already reflects changes nothing — because a retry after an
	// unknown outcome applies events again.
	apply(r record, e event.Event, c codec)
	// merge folds duplicate row b into a (two editkits added the same key
	// at once).
	merge(a, b record, c codec)
}

// altKeyer is a view whose events may also match a row by a second key
// (a drive first seen without its ID).
type altKeyer interface {
	altKey(e event.Event) string
}

// columnKinds tells the caller the kind of each column update added, for
// formatting.
type columnKinds map[int]kind

// recordOf reads a row by column name: the spec's columns under their
// canonical names whatever their case in the sheet, others as headed.
func recordOf(t *table, spec tabSpec, r int) record {
	names := t.names(spec)
	rec := make(record, len(names))
	for i, name := range names {
		if _, dup := rec[name]; !dup {
			rec[name] = t.cell(r, i)
		}
	}
	return rec
}

// update applies events to a derived table. It returns the edit, with the
// kinds of columns it added. Rows sharing a key are first merged into
// identical copies, so a whole-row duplicate removal can then drop the
// extra ones without losing anything.
func update(t *table, v view, evs []event.Event, c codec) (*edit, columnKinds) {
	ed := newEdit(t)
	kinds := columnKinds{}
	spec := v.spec()
	for _, i := range t.ensureColumns(spec) {
		ed.headerAdded = append(ed.headerAdded, i)
		for _, col := range spec.cols {
			if normHeader(col.name) == normHeader(t.header[i]) {
				kinds[i] = col.kind
			}
		}
	}
	index := map[string][]int{}
	for r := range t.rows {
		if k := v.rowKey(recordOf(t, spec, r), c); k != "" {
			index[k] = append(index[k], r)
		}
	}
	write := func(r int, rec record) {
		for name, val := range rec {
			col := t.col(name)
			if col < 0 {
				if cellString(val) == "" {
					continue
				}
				col = ed.column(name, kDrive, kinds)
			}
			ed.set(r, col, val)
		}
	}

	// Duplicates first: merged into every copy.
	var dupKeys []string
	for k, rows := range index {
		if len(rows) > 1 {
			dupKeys = append(dupKeys, k)
		}
	}
	sort.Strings(dupKeys)
	for _, k := range dupKeys {
		rows := index[k]
		merged := recordOf(t, spec, rows[0])
		for _, r := range rows[1:] {
			v.merge(merged, recordOf(t, spec, r), c)
		}
		for _, r := range rows {
			write(r, merged)
		}
		ed.dupsResolved = true
	}

	// Then the events, oldest first, so that a later event wins a tie.
	sorted := append([]event.Event(nil), evs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	ak, hasAlt := v.(altKeyer)
	for _, e := range sorted {
		k := v.key(e)
		if k == "" {
			continue
		}
		rows, ok := index[k]
		if !ok && hasAlt {
			if alt := ak.altKey(e); alt != "" {
				rows, ok = index[alt]
				if ok {
					index[k] = rows
					delete(index, alt)
				}
			}
		}
		if !ok {
			t.rows = append(t.rows, make([]any, len(t.header)))
			rows = []int{len(t.rows) - 1}
			index[k] = rows
		}
		for _, r := range rows {
			rec := recordOf(t, spec, r)
			v.apply(rec, e, c)
			write(r, rec)
		}
	}
	return ed, kinds
}

// rebuilt folds the whole log into a fresh table with t's header, carrying
// over the cells of the user's own columns for rows whose key survives.
func rebuilt(t *table, v view, all []event.Event, c codec) *table {
	spec := v.spec()
	fresh := &table{header: append([]string(nil), t.header...)}
	fresh.ensureColumns(spec)
	update(fresh, v, all, c)
	own := map[int]bool{}
	for _, col := range spec.cols {
		own[fresh.col(col.name)] = true
	}
	old := map[string]int{}
	for r := range t.rows {
		if k := v.rowKey(recordOf(t, spec, r), c); k != "" {
			if _, dup := old[k]; !dup {
				old[k] = r
			}
		}
	}
	for r := range fresh.rows {
		k := v.rowKey(recordOf(fresh, spec, r), c)
		or, ok := old[k]
		if !ok {
			continue
		}
		for i := range t.header {
			if own[i] || fresh.cell(r, i) != nil && cellString(fresh.cell(r, i)) != "" {
				continue // ours, or a drive column the log filled
			}
			if v := t.cell(or, i); cellString(v) != "" {
				fresh.setCell(r, i, v)
			}
		}
	}
	return fresh
}

// Helpers for views: read typed values from a record.

func recTime(r record, name string, c codec) time.Time {
	t, _ := c.parseTime(r[name])
	return t
}

func recText(r record, name string, c codec) string { return c.parseText(r[name]) }

// later reports whether event time t is at or after the cell's time: equal
// counts, so applying the same event twice writes the same value.
func later(t time.Time, cell time.Time) bool {
	return cell.IsZero() || !t.Truncate(time.Second).Before(cell.Truncate(time.Second))
}

func setIfEmpty(r record, name string, v any) {
	if cellString(r[name]) == "" && cellString(v) != "" {
		r[name] = v
	}
}

// mediaView is the Media tab: one row per media item (its tree path) and a
// column per drive with when the item arrived there. A drive cell holds
// the arrival time, or "pruned <time>" / "FAILED verify <time>" when the
// latest thing that happened to the item on that drive was that; the
// latest event wins, so events arriving late from an offline machine
// cannot turn back newer news.
type mediaView struct{}

func (mediaView) spec() tabSpec { return specFor(tabMedia) }

func (mediaView) key(e event.Event) string {
	switch e.Action {
	case event.Copied, event.Pulled, event.Pushed, event.VerifyFailed, event.Verified, event.Purged:
		return e.Path
	case event.Pruned:
		if e.Snapshot == "" {
			return e.Path
		}
	}
	return ""
}

// driveColumn is the Media column of a drive label. Labels that would
// collide with the tab's own columns get a prefix.
func driveColumn(label string) string {
	for _, c := range specFor(tabMedia).cols {
		if normHeader(c.name) == normHeader(label) {
			return "Drive " + label
		}
	}
	return label
}

const (
	prunedPrefix = "pruned "
	failedPrefix = "FAILED verify "
	purgedPrefix = "purged " // removed from the drive on purpose (editkit purge)
)

func parseDriveCell(v any, c codec) (state string, t time.Time) {
	if s, ok := v.(string); ok {
		for _, p := range []string{prunedPrefix, failedPrefix, purgedPrefix} {
			if rest, ok := strings.CutPrefix(s, p); ok {
				t, _ := c.parseTime(rest)
				return strings.TrimSpace(p), t
			}
		}
	}
	t, _ = c.parseTime(v)
	return "", t
}

func driveCell(state string, t time.Time, c codec) any {
	if state == "" {
		return c.time(t)
	}
	return state + " " + c.timeText(t)
}

func (mediaView) rowKey(r record, c codec) string {
	return strings.TrimSpace(recText(r, colPath, c))
}

func (mediaView) apply(r record, e event.Event, c codec) {
	if cellString(r[colPath]) == "" {
		r[colPath] = c.text(e.Path)
	}
	if e.Category != "" {
		r[colCategory] = c.text(e.Category)
	}
	if e.Size > 0 && (e.Action == event.Pushed || cellString(r[colSize]) == "") {
		r[colSize] = c.size(e.Size)
	}
	if e.Hash != "" && (e.Action == event.Pushed || cellString(r[colHash]) == "") {
		r[colHash] = c.text(e.Hash)
	}
	if e.Action == event.Pushed {
		// Added: when it first came into the catalog.
		if old := recTime(r, colAdded, c); old.IsZero() || e.Time.Truncate(time.Second).Before(old) {
			r[colAdded] = c.time(e.Time)
			r[colAddedBy] = c.text(e.User)
		}
		return
	}
	if e.Action == event.Pruned && e.Drive == "" {
		if later(e.Time, recTime(r, colRemoved, c)) {
			r[colRemoved] = c.time(e.Time)
		}
		return
	}
	if e.Drive == "" {
		return
	}
	col := driveColumn(e.Drive)
	state, t := parseDriveCell(r[col], c)
	switch e.Action {
	case event.Copied, event.Pulled:
		if later(e.Time, t) {
			r[col] = driveCell("", e.Time, c)
		}
	case event.Pruned:
		if later(e.Time, t) {
			r[col] = driveCell(strings.TrimSpace(prunedPrefix), e.Time, c)
		}
	case event.Purged:
		if later(e.Time, t) {
			r[col] = driveCell(strings.TrimSpace(purgedPrefix), e.Time, c)
		}
	case event.VerifyFailed:
		if later(e.Time, t) {
			r[col] = driveCell(strings.TrimSpace(failedPrefix), e.Time, c)
		}
	case event.Verified:
		// A pass after a failure clears the failure; a pass on an item
		// with a known arrival leaves the arrival time.
		if state == strings.TrimSpace(failedPrefix) && later(e.Time, t) {
			r[col] = driveCell("", e.Time, c)
		}
	}
}

func (v mediaView) merge(a, b record, c codec) {
	for name, bv := range b {
		if cellString(bv) == "" {
			continue
		}
		av := a[name]
		if cellString(av) == "" {
			a[name] = bv
			continue
		}
		switch normHeader(name) {
		case normHeader(colAdded):
			if bt, _ := c.parseTime(bv); !bt.IsZero() && bt.Before(recTime(a, name, c)) {
				a[name], a[colAddedBy] = bv, b[colAddedBy]
			}
		case normHeader(colRemoved):
			if bt, _ := c.parseTime(bv); bt.After(recTime(a, name, c)) {
				a[name] = bv
			}
		default:
			if isFixed(v.spec(), name) {
				continue
			}
			// A drive column (or the user's): the later state wins.
			_, at := parseDriveCell(av, c)
			_, bt := parseDriveCell(bv, c)
			if !at.IsZero() && bt.After(at) {
				a[name] = bv
			}
		}
	}
}

func isFixed(s tabSpec, name string) bool {
	for _, c := range s.cols {
		if normHeader(c.name) == normHeader(name) {
			return true
		}
	}
	return false
}

// drivesView is the Drives tab: one row per drive.
type drivesView struct{}

func (drivesView) spec() tabSpec { return specFor(tabDrives) }

func (drivesView) key(e event.Event) string {
	if e.Drive == "" && e.DriveID == "" {
		return ""
	}
	switch e.Action {
	case event.Copied, event.Verified, event.VerifyFailed, event.Pulled:
	default:
		if e.FreeSpace == 0 {
			return ""
		}
	}
	if e.DriveID != "" {
		return e.DriveID
	}
	return "label:" + e.Drive
}

func (drivesView) rowKey(r record, c codec) string {
	if id := strings.TrimSpace(recText(r, colDriveID, c)); id != "" {
		return id
	}
	if l := strings.TrimSpace(recText(r, colDrive, c)); l != "" {
		return "label:" + l
	}
	return ""
}

// altKey lets an event that knows the drive's ID adopt the row made for
// its label before the ID was known.
func (drivesView) altKey(e event.Event) string {
	if e.DriveID != "" && e.Drive != "" {
		return "label:" + e.Drive
	}
	return ""
}

func (drivesView) apply(r record, e event.Event, c codec) {
	if e.Drive != "" {
		r[colDrive] = c.text(e.Drive)
	}
	if e.DriveID != "" {
		r[colDriveID] = c.text(e.DriveID)
	}
	lastPull, lastVerify := recTime(r, colLastPull, c), recTime(r, colLastVerify, c)
	ownerTime := lastPull
	if lastVerify.After(ownerTime) {
		ownerTime = lastVerify
	}
	switch e.Action {
	case event.Copied:
		if later(e.Time, recTime(r, colLastCopy, c)) {
			r[colLastCopy] = c.time(e.Time)
		}
		// The assistant who prepared the drive owns it until an editor
		// pulls to or verifies it.
		if e.User != "" && ownerTime.IsZero() {
			setIfEmpty(r, colOwner, c.text(e.User))
		}
	case event.Pulled, event.Verified, event.VerifyFailed:
		if e.User != "" && later(e.Time, ownerTime) {
			r[colOwner] = c.text(e.User)
		}
		if e.Action == event.Pulled {
			if later(e.Time, lastPull) {
				r[colLastPull] = c.time(e.Time)
			}
		} else if later(e.Time, lastVerify) {
			r[colLastVerify] = c.time(e.Time)
			res := "OK"
			if e.Action == event.VerifyFailed {
				res = "FAILED"
				if e.Note != "" {
					res += ": " + e.Note
				}
			}
			r[colVerifyRes] = c.text(res)
		}
	}
	if e.FreeSpace > 0 && later(e.Time, recTime(r, colFreeAt, c)) {
		r[colFreeSpace] = c.size(e.FreeSpace)
		r[colFreeAt] = c.time(e.Time)
	}
}

func (drivesView) merge(a, b record, c codec) {
	mergeLatest(a, b, c, colLastCopy)
	if recTime(b, colLastVerify, c).After(recTime(a, colLastVerify, c)) {
		a[colLastVerify], a[colVerifyRes] = b[colLastVerify], b[colVerifyRes]
	}
	mergeLatest(a, b, c, colLastPull)
	if recTime(b, colFreeAt, c).After(recTime(a, colFreeAt, c)) {
		a[colFreeAt], a[colFreeSpace] = b[colFreeAt], b[colFreeSpace]
	}
	fillEmpty(a, b)
}

func mergeLatest(a, b record, c codec, name string) {
	if recTime(b, name, c).After(recTime(a, name, c)) {
		a[name] = b[name]
	}
}

func fillEmpty(a, b record) {
	for k, v := range b {
		if cellString(a[k]) == "" {
			a[k] = v
		}
	}
}

// backupsView is the Backups tab: one row per backup snapshot.
type backupsView struct{}

func (backupsView) spec() tabSpec { return specFor(tabBackups) }

func (backupsView) key(e event.Event) string {
	switch e.Action {
	case event.BackedUp, event.Restored, event.Pruned:
		return e.Snapshot
	}
	return ""
}

func (backupsView) rowKey(r record, c codec) string {
	return strings.TrimSpace(recText(r, colSnapshot, c))
}

func (backupsView) apply(r record, e event.Event, c codec) {
	if cellString(r[colSnapshot]) == "" {
		r[colSnapshot] = c.text(e.Snapshot)
	}
	switch e.Action {
	case event.BackedUp:
		if old := recTime(r, colTime, c); old.IsZero() || !e.Time.Truncate(time.Second).After(old) {
			r[colTime] = c.time(e.Time)
			r[colWho], r[colHost] = c.text(e.User), c.text(e.Host)
			r[colSet] = c.text(e.Set)
			if e.Size > 0 {
				r[colSize] = c.size(e.Size)
			}
			r[colNote] = c.text(firstNonEmpty(e.Note, e.Path))
		}
	case event.Restored:
		if later(e.Time, recTime(r, colRestored, c)) {
			r[colRestored] = c.time(e.Time)
			r[colRestoredBy] = c.text(e.User)
		}
		setIfEmpty(r, colSet, c.text(e.Set))
	case event.Pruned:
		if later(e.Time, recTime(r, colPruned, c)) {
			r[colPruned] = c.time(e.Time)
		}
		setIfEmpty(r, colSet, c.text(e.Set))
	}
}

func (backupsView) merge(a, b record, c codec) {
	if bt := recTime(b, colTime, c); !bt.IsZero() && (recTime(a, colTime, c).IsZero() || bt.Before(recTime(a, colTime, c))) {
		for _, k := range []string{colTime, colWho, colHost, colSet, colSize, colNote} {
			a[k] = b[k]
		}
	}
	if recTime(b, colRestored, c).After(recTime(a, colRestored, c)) {
		a[colRestored], a[colRestoredBy] = b[colRestored], b[colRestoredBy]
	}
	mergeLatest(a, b, c, colPruned)
	fillEmpty(a, b)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func views() []view { return []view{mediaView{}, drivesView{}, backupsView{}} }
