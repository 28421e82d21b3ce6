// Package sheetsfake is an in-process stand-in for the Google Sheets v4 REST
// API and Google's OAuth token endpoint, for tests: the real
// google.golang.org/api/sheets/v4 client and golang.org/x/oauth2 talk to it
// over HTTP on 127.0.0.1.
//
// It answers the calls editkit's tracker makes with the real API's paths,
// query parameters, JSON bodies and error bodies ({"error":{"code":…,
// "message":…,"status":…}}); it checks bearer tokens it issued itself,
// after verifying a service account's signed JWT assertion (signature,
// audience, lifetime, scope) or an OAuth login (authorization code with
// PKCE, refresh token, device code). It enforces per-minute read and write
// quotas per user and per project, as Google does, on a clock the test may
// speed up, and injects faults: error statuses, a write that is applied
// and then never answered (the dropped connection that tempts a client into
// writing twice), and a server that is down.
//
// What it does not do: evaluate formulas, render custom number formats
// other than dates, or implement requests editkit does not send (those get
// a 400 saying so, so a new call cannot silently pass against the fake).
package sheetsfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value gives Google's default quotas
// on the real clock.
type Options struct {
	// Now is the clock for quota windows; tests pass a sped-up clock
	// shared with the client's limiter. Default time.Now. Token lifetimes
	// always use the real clock, as x/oauth2 does.
	Now func() time.Time
	// Per-minute quotas; 0 means Google's default (60 per user, 300 per
	// project), a negative value means unlimited.
	WritesPerMinutePerUser    int
	ReadsPerMinutePerUser     int
	WritesPerMinutePerProject int
	ReadsPerMinutePerProject  int
	// TokenLifetime of issued access tokens; default one hour.
	TokenLifetime time.Duration
	// LoginUser is the Google account that "consents" in the OAuth login
	// flows; default editor@example.com.
	LoginUser string
}

// Server is a running fake. Its exported URLs end without a slash except
// URL, which is the API base path the sheets client expects.
type Server struct {
	// URL is the Sheets API endpoint (option.WithEndpoint), ending in "/".
	URL string
	// TokenURL is the OAuth token endpoint: a service-account key's
	// token_uri, and the token URL of the login flows.
	TokenURL string
	// AuthURL is the OAuth authorization endpoint (loopback login).
	AuthURL string
	// DeviceAuthURL is the OAuth device-authorization endpoint.
	DeviceAuthURL string

	opt Options
	hs  *httptest.Server

	mu       sync.Mutex
	books    map[string]*book
	accounts map[string]serviceAccount
	tokens   map[string]accessToken
	refresh  map[string]string // refresh token → principal
	codes    map[string]authCode
	devices  map[string]*deviceGrant
	clients  map[string]string // OAuth client ID → secret
	quota    map[string][]time.Time
	faults   []*Fault
	down     bool
	requests []Request
}

// Request is one API request the fake saw, for assertions.
type Request struct {
	Time      time.Time // on the fake's clock
	Principal string
	Op        string // e.g. "values.append", "spreadsheets.batchUpdate"
	Write     bool
	Status    int  // 0 when the connection was dropped
	Injected  bool // a fault injected by the test, not the fake's own doing
	Applied   bool // the request changed (or read) the spreadsheet
}

// New starts a fake on 127.0.0.1. Close it when done.
func New(opt Options) *Server {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&opt.WritesPerMinutePerUser, 60)
	def(&opt.ReadsPerMinutePerUser, 60)
	def(&opt.WritesPerMinutePerProject, 300)
	def(&opt.ReadsPerMinutePerProject, 300)
	if opt.TokenLifetime == 0 {
		opt.TokenLifetime = time.Hour
	}
	if opt.LoginUser == "" {
		opt.LoginUser = "editor@example.com"
	}
	s := &Server{
		opt:      opt,
		books:    map[string]*book{},
		accounts: map[string]serviceAccount{},
		tokens:   map[string]accessToken{},
		refresh:  map[string]string{},
		codes:    map[string]authCode{},
		devices:  map[string]*deviceGrant{},
		clients:  map[string]string{},
		quota:    map[string][]time.Time{},
	}
	// Loopback only: tests never talk to anything else.
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("sheetsfake: listen on 127.0.0.1: %v", err))
	}
	s.hs.Listener.Close()
	s.hs.Listener = l
	s.hs.Start()
	base := s.hs.URL
	s.URL = base + "/"
	s.TokenURL = base + "/token"
	s.AuthURL = base + "/o/oauth2/auth"
	s.DeviceAuthURL = base + "/device/code"
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// CreateSpreadsheet makes an empty spreadsheet with one sheet, "Sheet1",
// shared with the given principals as editors, and returns its ID.
func (s *Server) CreateSpreadsheet(title string, editors ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := "1" + randHex(21) + "x_Yz-" + randHex(8)
	b := &book{id: id, title: title, timeZone: "Europe/London", locale: "en_GB",
		editors: map[string]bool{}, readers: map[string]bool{}, nextID: 1}
	b.sheets = []*tab{{id: 0, title: "Sheet1", rowCount: 1000, colCount: 26}}
	for _, e := range editors {
		b.editors[e] = true
	}
	s.books[id] = b
	return id
}

// SetTimeZone sets a spreadsheet's time zone (File › Settings).
func (s *Server) SetTimeZone(id, tz string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.books[id].timeZone = tz
}

// Share gives principal edit (write) or view (read-only) access.
func (s *Server) Share(id, principal string, write bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.books[id]
	if write {
		b.editors[principal] = true
	} else {
		b.readers[principal] = true
	}
}

// Unshare removes a principal's access.
func (s *Server) Unshare(id, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.books[id].editors, principal)
	delete(s.books[id].readers, principal)
}

// Values returns a sheet's cell values as stored (nil, string, float64,
// bool), trailing empty rows and cells trimmed; ok is false when there is
// no such sheet.
func (s *Server) Values(id, sheet string) (rows [][]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.books[id]
	if b == nil {
		return nil, false
	}
	t := b.tabByTitle(sheet)
	if t == nil {
		return nil, false
	}
	last := t.lastRow(0, -1)
	for r := 0; r <= last; r++ {
		row := append([]any(nil), t.rows[r]...)
		for len(row) > 0 && empty(row[len(row)-1]) {
			row = row[:len(row)-1]
		}
		rows = append(rows, row)
	}
	return rows, true
}

// SetValues writes values into a sheet as a person typing would (RAW),
// creating the sheet if needed; for tests that edit the sheet "by hand".
func (s *Server) SetValues(id, sheet string, row0, col0 int, values [][]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.books[id]
	t := b.tabByTitle(sheet)
	if t == nil {
		t = &tab{id: b.nextID, title: sheet, rowCount: 1000, colCount: 26}
		b.nextID++
		b.sheets = append(b.sheets, t)
		b.reindex()
	}
	for r, row := range values {
		for c, v := range row {
			t.set(row0+r, col0+c, normalize(v))
			t.rowCount = max(t.rowCount, row0+r+1)
			t.colCount = max(t.colCount, col0+c+1)
		}
	}
}

// DeleteRows deletes rows [from, from+n) of a sheet (0-based), as a person
// selecting rows and pressing Delete would.
func (s *Server) DeleteRows(id, sheet string, from, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.books[id].tabByTitle(sheet)
	t.deleteRows(from, n)
}

// DeleteSheet removes a tab, as a person might.
func (s *Server) DeleteSheet(id, sheet string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.books[id]
	for i, t := range b.sheets {
		if t.title == sheet {
			b.sheets = append(b.sheets[:i], b.sheets[i+1:]...)
			b.reindex()
			return
		}
	}
}

// SheetInfo describes a sheet's grid.
type SheetInfo struct {
	ID                     int64
	Rows, Columns          int
	FrozenRows, FrozenCols int
	// Formats maps a column index to the number-format type and pattern
	// last applied to its data rows ("DATE_TIME yyyy-mm-dd hh:mm:ss").
	Formats map[int]string
	// BoldHeader reports whether row 1 was made bold.
	BoldHeader bool
}

// Sheets lists the sheet titles of a spreadsheet in tab order.
func (s *Server) Sheets(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.books[id].sheets {
		out = append(out, t.title)
	}
	return out
}

// Info describes a sheet; ok is false when there is none.
func (s *Server) Info(id, sheet string) (SheetInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.books[id].tabByTitle(sheet)
	if t == nil {
		return SheetInfo{}, false
	}
	info := SheetInfo{ID: t.id, Rows: t.rowCount, Columns: t.colCount,
		FrozenRows: t.frozenRow, FrozenCols: t.frozenCol, Formats: map[int]string{}}
	for c := 0; c < t.colCount; c++ {
		if f := t.formatAt(1, c); f != nil && f.NumberFormat != nil {
			info.Formats[c] = strings.TrimSpace(f.NumberFormat.Type + " " + f.NumberFormat.Pattern)
		}
	}
	if f := t.formatAt(0, 0); f != nil && f.TextFormat != nil && f.TextFormat.Bold {
		info.BoldHeader = true
	}
	return info, true
}

// Requests returns the API requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Stats sums up Requests.
type Stats struct {
	Reads, Writes    int // applied (answered 2xx, or applied and then dropped)
	QuotaRejections  int // 429 from the quota enforcer (not injected)
	InjectedFaults   int
	Dropped          int // connections dropped (injected or down)
	MaxWritesMinute  int // most writes by one principal in any 60 s window
	Unauthenticated  int // 401s
	PermissionDenied int // 403s
}

// Stats sums up the requests seen so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st Stats
	byUser := map[string][]time.Time{}
	for _, r := range s.requests {
		switch {
		case r.Status == 0:
			st.Dropped++
		case r.Status == 429 && !r.Injected:
			st.QuotaRejections++
		case r.Status == 401:
			st.Unauthenticated++
		case r.Status == 403:
			st.PermissionDenied++
		}
		if r.Injected {
			st.InjectedFaults++
		}
		if r.Applied {
			if r.Write {
				st.Writes++
				byUser[r.Principal] = append(byUser[r.Principal], r.Time)
			} else {
				st.Reads++
			}
		}
	}
	for _, ts := range byUser {
		j := 0
		for i := range ts {
			for ts[i].Sub(ts[j]) >= time.Minute {
				j++
			}
			st.MaxWritesMinute = max(st.MaxWritesMinute, i-j+1)
		}
	}
	return st
}

// Fault is an injected failure. It hits the next Times matching requests
// (default 1).
type Fault struct {
	// Op limits the fault to one operation ("values.append",
	// "values.batchUpdate", "values.batchGet", "values.get",
	// "spreadsheets.get", "spreadsheets.batchUpdate"); "" matches any.
	Op string
	// WritesOnly limits the fault to write requests.
	WritesOnly bool
	// Status answers with this HTTP status and Google's error body,
	// without applying the request (429, 500, 503…).
	Status int
	// RetryAfter, with Status, sets a Retry-After header.
	RetryAfter time.Duration
	// ApplyThenDrop applies the request and then closes the connection
	// without answering: the client cannot tell whether it happened.
	ApplyThenDrop bool
	// ApplyThenHang applies the request and then holds the answer until
	// the client gives up (or this long, in real time, then drops).
	ApplyThenHang time.Duration
	// Drop closes the connection without applying the request or
	// answering, as a server that went down does.
	Drop bool
	// AfterWrites holds the fault back until the server has applied this
	// many writes: an outage in the middle of a push, at a point the test
	// chooses rather than a moment in time.
	AfterWrites int
	// Times is how many requests the fault hits; default 1.
	Times int
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// PendingFaults reports how many injected hits are still to come.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// SetDown makes every request (API and token endpoint) fail with a
// dropped connection, as an unreachable server does, until SetDown(false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if down {
		s.hs.CloseClientConnections()
	}
}

// RevokeTokens invalidates every access and refresh token, as an expired
// or revoked login would.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]accessToken{}
	s.refresh = map[string]string{}
}

// apiError writes Google's JSON error body.
func apiError(w http.ResponseWriter, code int, status, msg string, details ...any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	body := map[string]any{"code": code, "message": msg, "status": status}
	if len(details) > 0 {
		body["details"] = details
	}
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func dropConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// serve routes a request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		s.record(Request{Time: s.opt.Now(), Op: "down"})
		dropConn(w)
		return
	}
	switch {
	case r.URL.Path == "/token":
		s.serveToken(w, r)
	case r.URL.Path == "/o/oauth2/auth":
		s.serveAuthorize(w, r)
	case r.URL.Path == "/device/code":
		s.serveDeviceCode(w, r)
	case strings.HasPrefix(r.URL.Path, "/v4/spreadsheets"):
		s.serveAPI(w, r)
	default:
		apiError(w, 404, "NOT_FOUND", "sheetsfake: no such endpoint "+r.URL.Path)
	}
}

func (s *Server) record(req Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}

// apiCall is a parsed Sheets API request.
type apiCall struct {
	op     string
	write  bool
	bookID string
	rng    string // for values/{range} calls
	query  url.Values
	body   []byte
}

func parseCall(r *http.Request) (apiCall, error) {
	c := apiCall{query: r.URL.Query()}
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/v4/spreadsheets")
	p = strings.TrimPrefix(p, "/")
	seg := strings.SplitN(p, "/", 3)
	unesc := func(s string) string {
		u, err := url.PathUnescape(s)
		if err != nil {
			return s
		}
		return u
	}
	switch {
	case len(seg) == 1 && strings.HasSuffix(seg[0], ":batchUpdate") && r.Method == "POST":
		c.op, c.write, c.bookID = "spreadsheets.batchUpdate", true, unesc(strings.TrimSuffix(seg[0], ":batchUpdate"))
	case len(seg) == 1 && r.Method == "GET" && seg[0] != "":
		c.op, c.bookID = "spreadsheets.get", unesc(seg[0])
	case len(seg) == 2 && seg[1] == "values:batchGet" && r.Method == "GET":
		c.op, c.bookID = "values.batchGet", unesc(seg[0])
	case len(seg) == 2 && seg[1] == "values:batchUpdate" && r.Method == "POST":
		c.op, c.write, c.bookID = "values.batchUpdate", true, unesc(seg[0])
	case len(seg) == 2 && seg[1] == "values:batchClear" && r.Method == "POST":
		c.op, c.write, c.bookID = "values.batchClear", true, unesc(seg[0])
	case len(seg) == 3 && seg[1] == "values":
		c.bookID = unesc(seg[0])
		rng := unesc(seg[2])
		switch {
		case strings.HasSuffix(rng, ":append") && r.Method == "POST":
			c.op, c.write, c.rng = "values.append", true, strings.TrimSuffix(rng, ":append")
		case strings.HasSuffix(rng, ":clear") && r.Method == "POST":
			c.op, c.write, c.rng = "values.clear", true, strings.TrimSuffix(rng, ":clear")
		case r.Method == "GET":
			c.op, c.rng = "values.get", rng
		case r.Method == "PUT":
			c.op, c.write, c.rng = "values.update", true, rng
		}
	}
	if c.op == "" {
		return c, fmt.Errorf("sheetsfake does not implement %s %s", r.Method, r.URL.Path)
	}
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			return c, err
		}
		c.body = b
	}
	return c, nil
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	now := s.opt.Now()
	call, err := parseCall(r)
	if err != nil {
		apiError(w, 404, "NOT_FOUND", err.Error())
		return
	}
	req := Request{Time: now, Op: call.op, Write: call.write}

	// Authentication first, as Google does.
	principal, status, msg := s.authenticate(r)
	req.Principal = principal
	if status != 0 {
		req.Status = status
		s.record(req)
		if status == 401 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
			apiError(w, 401, "UNAUTHENTICATED", msg)
		} else {
			apiError(w, status, "PERMISSION_DENIED", msg)
		}
		return
	}

	s.mu.Lock()
	fault := s.takeFault(call)
	if fault != nil && fault.Drop {
		s.mu.Unlock()
		req.Injected = true
		s.record(req)
		dropConn(w)
		return
	}
	if fault != nil && fault.Status != 0 {
		s.mu.Unlock()
		req.Status, req.Injected = fault.Status, true
		s.record(req)
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(fault.RetryAfter.Round(time.Second)/time.Second)))
		}
		apiError(w, fault.Status, statusName(fault.Status), "sheetsfake: injected "+http.StatusText(fault.Status))
		return
	}
	if msg, ok := s.overQuota(principal, call.write, now); !ok {
		s.mu.Unlock()
		req.Status = 429
		s.record(req)
		kind := "Read"
		if call.write {
			kind = "Write"
		}
		apiError(w, 429, "RESOURCE_EXHAUSTED", msg, map[string]any{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": "RATE_LIMIT_EXCEEDED",
			"domain": "googleapis.com",
			"metadata": map[string]string{
				"quota_metric": "sheets.googleapis.com/" + strings.ToLower(kind) + "_requests",
				"quota_limit":  kind + "RequestsPerMinutePerUser",
				"service":      "sheets.googleapis.com",
			},
		})
		return
	}
	b := s.books[call.bookID]
	if b == nil {
		s.mu.Unlock()
		req.Status = 404
		s.record(req)
		apiError(w, 404, "NOT_FOUND", "Requested entity was not found.")
		return
	}
	if !b.editors[principal] && !(b.readers[principal] && !call.write) {
		s.mu.Unlock()
		req.Status = 403
		s.record(req)
		apiError(w, 403, "PERMISSION_DENIED", "The caller does not have permission")
		return
	}
	resp, code, errMsg := s.apply(b, call)
	s.mu.Unlock()

	if code != 0 {
		req.Status = code
		s.record(req)
		apiError(w, code, statusName(code), errMsg)
		return
	}
	req.Applied = true
	if fault != nil && (fault.ApplyThenDrop || fault.ApplyThenHang > 0) {
		req.Injected = true
		s.record(req)
		if fault.ApplyThenHang > 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(fault.ApplyThenHang):
			}
		}
		dropConn(w)
		return
	}
	req.Status = 200
	s.record(req)
	writeJSON(w, resp)
}

func statusName(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 500:
		return "INTERNAL"
	case 502, 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "UNKNOWN"
}

// takeFault pops the first fault matching call. Called with s.mu held.
func (s *Server) takeFault(call apiCall) *Fault {
	for i, f := range s.faults {
		if f.Op != "" && f.Op != call.op || f.WritesOnly && !call.write {
			continue
		}
		if f.AfterWrites > 0 && s.appliedWrites() < f.AfterWrites {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// appliedWrites counts the writes applied so far. Called with s.mu held.
func (s *Server) appliedWrites() int {
	n := 0
	for _, r := range s.requests {
		if r.Write && r.Applied {
			n++
		}
	}
	return n
}

// overQuota counts the request against the per-user and per-project
// per-minute quotas (sliding 60 s windows, stricter than Google's
// per-minute buckets) and reports false with Google's message when it is
// over. Called with s.mu held.
func (s *Server) overQuota(principal string, write bool, now time.Time) (string, bool) {
	kind, userLimit, projLimit := "Read requests", s.opt.ReadsPerMinutePerUser, s.opt.ReadsPerMinutePerProject
	if write {
		kind, userLimit, projLimit = "Write requests", s.opt.WritesPerMinutePerUser, s.opt.WritesPerMinutePerProject
	}
	userKey, projKey := kind+"|user|"+principal, kind+"|project"
	prune := func(k string) []time.Time {
		ts := s.quota[k]
		i := 0
		for i < len(ts) && now.Sub(ts[i]) >= time.Minute {
			i++
		}
		ts = ts[i:]
		s.quota[k] = ts
		return ts
	}
	u, p := prune(userKey), prune(projKey)
	if userLimit > 0 && len(u) >= userLimit {
		return fmt.Sprintf("Quota exceeded for quota metric '%s' and limit '%s per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:1234567890'.", kind, kind), false
	}
	if projLimit > 0 && len(p) >= projLimit {
		return fmt.Sprintf("Quota exceeded for quota metric '%s' and limit '%s per minute' of service 'sheets.googleapis.com' for consumer 'project_number:1234567890'.", kind, kind), false
	}
	s.quota[userKey] = append(u, now)
	s.quota[projKey] = append(p, now)
	return "", true
}
