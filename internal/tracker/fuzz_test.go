package tracker

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
)

// FuzzOutboxFile puts an arbitrary file in the tracker's outbox, as damage
// or another program might: loading never panics, the file is either read
// (valid events only) or set aside and reported, so it cannot block the
// batches after it; what is read, written again, reads back the same.
func FuzzOutboxFile(f *testing.F) {
	e := event.New(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), event.Pulled)
	e.Path, e.Drive, e.DriveID, e.Size = "VFX/VFX_010_v1.mxf", "Anna", "ek-0123456789", 3000000
	b, _ := json.Marshal(e)
	f.Add(append(b, '\n'))
	f.Add(append(append(append(b, '\n'), ' ', '\n'), b...))
	f.Add([]byte(`{"id":"","action":"pulled"}`))
	f.Add([]byte(`{"id":"a/b","action":"pulled"}`))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		o, err := openOutbox(dir)
		if err != nil {
			t.Fatal(err)
		}
		const name = "20261124T120000.000000Z-0a1b2c3d-abcd.jsonl"
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		good := event.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), event.Verified)
		if err := o.add([]event.Event{good}); err != nil {
			t.Fatal(err)
		}
		batches, warnings, err := o.load(true)
		if err != nil {
			t.Fatal(err)
		}
		var read *batch
		found := false
		for i, b := range batches {
			for _, e := range b.events {
				if err := e.Validate(); err != nil {
					t.Fatalf("invalid event loaded: %v", err)
				}
				if e.ID == good.ID {
					found = true
				}
			}
			if b.name == name {
				read = &batches[i]
			}
		}
		if !found {
			t.Fatal("a good batch was not loaded past a bad one")
		}
		if read == nil {
			aside := name + corruptSuffix
			if _, err := os.Stat(filepath.Join(dir, aside)); err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], aside) {
				t.Fatalf("an unreadable batch was neither read nor set aside and reported: %v %q", err, warnings)
			}
			return
		}
		if len(read.events) == 0 {
			return
		}
		dir2 := t.TempDir()
		o2, _ := openOutbox(dir2)
		if err := o2.add(read.events); err != nil {
			t.Fatal(err)
		}
		again, _, err := o2.load(false)
		if err != nil || len(again) != 1 {
			t.Fatalf("a batch read once does not read again: %v", err)
		}
		x, _ := json.Marshal(read.events)
		y, _ := json.Marshal(again[0].events)
		if !bytes.Equal(x, y) {
			t.Fatalf("read %s\nthen %s", x, y)
		}
	})
}

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
