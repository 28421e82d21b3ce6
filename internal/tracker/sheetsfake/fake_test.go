package sheetsfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	sheets "google.golang.org/api/sheets/v4"
)

func TestParseA1(t *testing.T) {
	cases := []struct {
		in                 string
		sheet              string
		r0, r1, c0, c1     int
		onlySheet, invalid bool
	}{
		{in: "Sheet1", sheet: "Sheet1", r1: -1, c1: -1, onlySheet: true},
		{in: "'My tab'!A1", sheet: "My tab", r0: 0, r1: 1, c0: 0, c1: 1},
		{in: "'It''s'!B2:D4", sheet: "It's", r0: 1, r1: 4, c0: 1, c1: 4},
		{in: "Log!A:O", sheet: "Log", r1: -1, c0: 0, c1: 15},
		{in: "Log!2:2", sheet: "Log", r0: 1, r1: 2, c1: -1},
		{in: "Log!A2:Z", sheet: "Log", r0: 1, r1: -1, c0: 0, c1: 26},
		{in: "Log!AA10", sheet: "Log", r0: 9, r1: 10, c0: 26, c1: 27},
		{in: "A1:B2", r0: 0, r1: 2, c0: 0, c1: 2},
		{in: "Log!", invalid: true},
		{in: "Log!B2:A1", invalid: true},
		{in: "'open", invalid: true},
	}
	for _, c := range cases {
		r, err := parseA1(c.in, func(n string) bool { return n == "Sheet1" })
		if c.invalid {
			if err == nil {
				t.Errorf("%q parsed", c.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if r.sheet != c.sheet || r.r0 != c.r0 || r.r1 != c.r1 || r.c0 != c.c0 || r.c1 != c.c1 || r.onlySheet != c.onlySheet {
			t.Errorf("%q: got %+v", c.in, r)
		}
	}
	if colName(0) != "A" || colName(25) != "Z" || colName(26) != "AA" || colName(701) != "ZZ" {
		t.Error("colName")
	}
}

// client returns the real sheets client authenticated through the fake's
// token endpoint with a fresh service account.
func client(t *testing.T, s *Server, email string) *sheets.Service {
	t.Helper()
	key, err := s.NewServiceAccount(email)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := google.JWTConfigFromJSON(key, ScopeSpreadsheets)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := sheets.NewService(context.Background(), option.WithHTTPClient(conf.Client(context.Background())),
		option.WithEndpoint(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestAppendAnswersLikeGoogle(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	svc := client(t, s, "sa@test.iam.gserviceaccount.com")
	id := s.CreateSpreadsheet("t", "sa@test.iam.gserviceaccount.com")
	vr := &sheets.ValueRange{Values: [][]any{{"a", 1, true}, {"b", 2.5}}}
	r, err := svc.Spreadsheets.Values.Append(id, "Sheet1!A:C", vr).ValueInputOption("RAW").InsertDataOption("INSERT_ROWS").Do()
	if err != nil {
		t.Fatal(err)
	}
	if r.TableRange != "" || r.Updates.UpdatedRange != "Sheet1!A1:C2" || r.Updates.UpdatedRows != 2 || r.Updates.UpdatedCells != 5 {
		t.Errorf("first append: %+v %+v", r, r.Updates)
	}
	r, err = svc.Spreadsheets.Values.Append(id, "Sheet1!A:C", &sheets.ValueRange{Values: [][]any{{"c"}}}).
		ValueInputOption("USER_ENTERED").IncludeValuesInResponse(true).Do()
	if err != nil {
		t.Fatal(err)
	}
	if r.TableRange != "Sheet1!A1:C2" || r.Updates.UpdatedRange != "Sheet1!A3" || r.Updates.UpdatedData == nil {
		t.Errorf("second append: %+v %+v", r, r.Updates)
	}
	got, err := svc.Spreadsheets.Values.Get(id, "Sheet1!A1:C3").ValueRenderOption("UNFORMATTED_VALUE").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Values) != 3 || got.Values[0][2] != true || got.Values[1][1] != 2.5 || len(got.Values[2]) != 1 {
		t.Errorf("values: %v", got.Values)
	}
	// Formatted by default, as Google answers.
	got, _ = svc.Spreadsheets.Values.Get(id, "Sheet1!A1:C1").Do()
	if got.Values[0][1] != "1" || got.Values[0][2] != "TRUE" {
		t.Errorf("formatted: %v", got.Values)
	}
	// Columns major.
	got, _ = svc.Spreadsheets.Values.Get(id, "Sheet1!A1:B2").MajorDimension("COLUMNS").Do()
	if len(got.Values) != 2 || got.Values[0][1] != "b" {
		t.Errorf("columns: %v", got.Values)
	}
}

func TestBatchUpdateIsAtomic(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	svc := client(t, s, "sa@test.iam.gserviceaccount.com")
	id := s.CreateSpreadsheet("t", "sa@test.iam.gserviceaccount.com")
	_, err := svc.Spreadsheets.BatchUpdate(id, &sheets.BatchUpdateSpreadsheetRequest{Requests: []*sheets.Request{
		{AddSheet: &sheets.AddSheetRequest{Properties: &sheets.SheetProperties{Title: "Log"}}},
		{AddSheet: &sheets.AddSheetRequest{Properties: &sheets.SheetProperties{Title: "Sheet1"}}}, // exists
	}}).Do()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 400 || !strings.Contains(gerr.Message, "requests[1]") {
		t.Fatalf("want a 400 naming requests[1], got %v", err)
	}
	if got := s.Sheets(id); len(got) != 1 {
		t.Errorf("a failed batchUpdate applied part of itself: %v", got)
	}
}

func TestDeleteDuplicates(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	svc := client(t, s, "sa@test.iam.gserviceaccount.com")
	id := s.CreateSpreadsheet("t", "sa@test.iam.gserviceaccount.com")
	s.SetValues(id, "Sheet1", 0, 0, [][]any{{"h"}, {"x", 1.0}, {"y"}, {"X", 1.0}, {"x", 2.0}, {"y"}})
	resp, err := svc.Spreadsheets.BatchUpdate(id, &sheets.BatchUpdateSpreadsheetRequest{Requests: []*sheets.Request{
		{DeleteDuplicates: &sheets.DeleteDuplicatesRequest{Range: &sheets.GridRange{SheetId: 0, StartRowIndex: 1, EndRowIndex: 6}}},
	}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if n := resp.Replies[0].DeleteDuplicates.DuplicatesRemovedCount; n != 2 {
		t.Errorf("removed %d, want 2 (case-insensitive X and the second y)", n)
	}
	rows, _ := s.Values(id, "Sheet1")
	if len(rows) != 4 {
		t.Errorf("rows: %v", rows)
	}
}

// Error bodies, raw: the shape googleapi and every other client parse.
func TestErrorBodiesLikeGoogle(t *testing.T) {
	s := New(Options{WritesPerMinutePerUser: 2})
	defer s.Close()
	svc := client(t, s, "sa@test.iam.gserviceaccount.com")
	id := s.CreateSpreadsheet("t", "sa@test.iam.gserviceaccount.com")

	raw := func(req *http.Request) (int, map[string]any, http.Header) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp.StatusCode, m, resp.Header
	}
	req, _ := http.NewRequest("GET", s.URL+"v4/spreadsheets/"+id, nil)
	code, body, hdr := raw(req)
	e, _ := body["error"].(map[string]any)
	if code != 401 || e["status"] != "UNAUTHENTICATED" || e["code"] != 401.0 || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("401: %d %v", code, body)
	}

	call := func(f func() error) *googleapi.Error {
		var gerr *googleapi.Error
		errors.As(f(), &gerr)
		return gerr
	}
	if g := call(func() error { _, err := svc.Spreadsheets.Get("nope-nope-nope").Do(); return err }); g == nil || g.Code != 404 {
		t.Errorf("404: %v", g)
	}
	other := s.CreateSpreadsheet("not shared")
	if g := call(func() error { _, err := svc.Spreadsheets.Get(other).Do(); return err }); g == nil || g.Code != 403 || g.Message != "The caller does not have permission" {
		t.Errorf("403: %v", g)
	}
	if g := call(func() error {
		_, err := svc.Spreadsheets.Values.Update(id, "Sheet1!A1", &sheets.ValueRange{Values: [][]any{{"x"}}}).Do()
		return err
	}); g == nil || g.Code != 400 || !strings.Contains(g.Message, "valueInputOption") {
		t.Errorf("400: %v", g)
	}
	// Two writes allowed per minute (the 400 above was one): the third is a
	// quota error.
	w := func() error {
		_, err := svc.Spreadsheets.Values.Update(id, "Sheet1!A1", &sheets.ValueRange{Values: [][]any{{"x"}}}).ValueInputOption("RAW").Do()
		return err
	}
	if err := w(); err != nil {
		t.Fatal(err)
	}
	g := call(w)
	if g == nil || g.Code != 429 || !strings.Contains(g.Message, "Write requests per minute per user") || len(g.Details) == 0 {
		t.Errorf("429: %v", g)
	}
	if !strings.Contains(g.Body, `"RESOURCE_EXHAUSTED"`) || !strings.Contains(g.Body, "RATE_LIMIT_EXCEEDED") {
		t.Errorf("429 body: %s", g.Body)
	}
}

func TestTokenEndpointChecksAssertion(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	key, _ := s.NewServiceAccount("sa@test.iam.gserviceaccount.com")
	conf, _ := google.JWTConfigFromJSON(key, ScopeSpreadsheets)
	conf.Audience = "https://elsewhere.example/token"
	_, err := conf.TokenSource(context.Background()).Token()
	var rerr *oauth2.RetrieveError
	if !errors.As(err, &rerr) || !strings.Contains(string(rerr.Body), "invalid_grant") {
		t.Errorf("wrong audience accepted: %v", err)
	}
	// A key Google never saw (same email, other key).
	other := New(Options{})
	defer other.Close()
	key2, _ := other.NewServiceAccount("sa@test.iam.gserviceaccount.com")
	conf2, _ := google.JWTConfigFromJSON(key2, ScopeSpreadsheets)
	conf2.TokenURL = s.TokenURL
	if _, err := conf2.TokenSource(context.Background()).Token(); err == nil || !strings.Contains(err.Error(), "Invalid JWT Signature") {
		t.Errorf("foreign key accepted: %v", err)
	}
}
