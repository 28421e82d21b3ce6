package tracker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzSpreadsheetID: whatever a person pastes, the ID returned is a valid
// one taken from what was pasted, never a panic.
func FuzzSpreadsheetID(f *testing.F) {
	f.Add("https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit#gid=0")
	f.Add("https://docs.google.com/spreadsheets/u/1/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit?usp=sharing")
	f.Add("https://docs.google.com/spreadsheets/d/e/2PACX-1vabcdefghijkl/pubhtml")
	f.Add("https://docs.google.com/spreadsheet/ccc?key=1AbCdEfGhIjKlMnOp")
	f.Add("1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789")
	f.Add("%zz/d/x")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseSpreadsheetID(s)
		if err != nil {
			return
		}
		if !validID(id) || !strings.Contains(s, id) {
			t.Fatalf("%q gave ID %q", s, id)
		}
	})
}

// FuzzCSVLog puts arbitrary bytes in the CSV tracker's log.csv, as a person
// editing it in a spreadsheet app might leave it, and records events: each
// lands in the log exactly once and no row that was there is lost.
func FuzzCSVLog(f *testing.F) {
	f.Add([]byte(bom + "Time,Event ID,Who,Host,Action\r\n2026-11-24 10:00:00,x1,ae,mac,copied\r\n"))
	f.Add([]byte("Time,Event ID\r\n\"unterminated,x\r\n"))
	f.Add([]byte("Event ID,Event ID\nx,y\nlast line without end"))
	f.Add([]byte("a\"b,c\n\n\n,,,,,,,,,,,,,,,,,,,,\n"))
	f.Add([]byte(bom))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "tracker")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(dir, "log.csv")
		if err := os.WriteFile(log, data, 0o644); err != nil {
			t.Fatal(err)
		}
		before, err := readCSV(log)
		if err != nil {
			return // refused as it is: the tracker says so
		}
		tr, err := New(context.Background(), Config{CSVDir: dir, OutboxDir: filepath.Join(t.TempDir(), "outbox"), Location: time.UTC, MinFlushInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		evs := genEvents(3, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
		res, err := tr.Record(context.Background(), evs)
		if err != nil {
			t.Fatalf("events not accepted: %v", err)
		}
		if res.NotSent != nil {
			return // reported to the user; the events wait in the outbox
		}
		after, err := readCSV(log)
		if err != nil {
			t.Fatalf("the tracker left log.csv unreadable: %v", err)
		}
		c := after.col(colEventID)
		if c < 0 {
			t.Fatalf("log.csv has no %s column after recording", colEventID)
		}
		n := map[string]int{}
		for _, row := range after.rows {
			if c < len(row) {
				n[strings.TrimSpace(cellString(row[c]))]++
			}
		}
		for _, e := range evs {
			if n[e.ID] != 1 {
				t.Fatalf("event %s is in log.csv %d times", e.ID, n[e.ID])
			}
		}
		if len(after.rows) < len(before.rows)+len(evs) {
			t.Fatalf("log.csv had %d rows, %d after recording %d events", len(before.rows), len(after.rows), len(evs))
		}
	})
}
