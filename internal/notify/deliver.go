package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
)

// Queue keeps m in the outbox for the notification targets. Once it
// returns, the message is sent by this or a later Flush, whatever happens
// to the process in between.
func Queue(ob *outbox.Outbox, m Message) error {
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b := outbox.Batch{ID: event.NewID(time.Now()), To: []string{outbox.Notify}, Message: raw}
	if err := ob.Add(b); err != nil {
		return fmt.Errorf("notification %q could not be kept: %w", m.Title, err)
	}
	return nil
}

// Report is what a Flush did.
type Report struct {
	Sent     int      `json:"sent"`               // messages every target now has
	Waiting  int      `json:"waiting"`            // messages still waiting for a target
	Failed   []string `json:"failed,omitempty"`   // per target that failed: why (never a URL or password)
	Warnings []string `json:"warnings,omitempty"` // outbox files put aside
}

// Flush sends the waiting messages, oldest first, to every target that
// does not have them yet, holding the notify lock (snd). A target's answer
// is saved (the receipt's Confirmed) before the next target or message, so
// a target that took a message never gets it again, unless the process
// dies between its answer and that save. A target that fails is not tried
// again in this Flush (its messages keep their order); the others go on.
// A message is done when every configured target has it: a target removed
// from the settings no longer holds messages back.
//
// down names the targets not to try (they failed earlier in the same
// run: one wait for a target that is down, not one per message); those
// that fail now are added to it. Nil: none.
func Flush(ctx context.Context, snd *outbox.Sender, targets []Target, down map[string]bool) (Report, error) {
	var rep Report
	if len(targets) == 0 {
		return rep, nil // nobody to tell: the messages wait for a target
	}
	pending, warnings, err := snd.Pending()
	rep.Warnings = warnings
	if err != nil {
		return rep, err
	}
	if down == nil {
		down = map[string]bool{}
	}
	for _, p := range pending {
		m, err := decode(p.Message)
		if err != nil {
			rep.Warnings = append(rep.Warnings, snd.Quarantine(p.ID, err))
			continue
		}
		for _, t := range targets {
			if slices.Contains(p.Receipt.Confirmed, t.Name()) || down[t.Name()] {
				continue
			}
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			snd.Step("sending")
			if err := t.Send(ctx, p.ID, m); err != nil {
				down[t.Name()] = true
				rep.Failed = append(rep.Failed, err.Error())
				continue
			}
			snd.Step("sent")
			p.Receipt.Confirmed = append(p.Receipt.Confirmed, t.Name())
			p.Receipt.Done = every(targets, p.Receipt.Confirmed)
			if err := snd.Save(p); err != nil {
				return rep, err
			}
		}
		if every(targets, p.Receipt.Confirmed) {
			if !p.Receipt.Done { // every target had it before this Flush
				p.Receipt.Done = true
				if err := snd.Save(p); err != nil {
					return rep, err
				}
			}
			rep.Sent++
		} else {
			rep.Waiting++
		}
	}
	return rep, nil
}

func every(targets []Target, confirmed []string) bool {
	for _, t := range targets {
		if !slices.Contains(confirmed, t.Name()) {
			return false
		}
	}
	return true
}

// TestResult is how one target took a test message.
type TestResult struct {
	Target string
	Err    error
}

// SendTest sends a test message to every target now, not through the
// outbox: a test that fails is reported, not retried later.
func SendTest(ctx context.Context, s Settings, user, host string) []TestResult {
	now := time.Now()
	m := Message{Kind: Test, Time: now, User: user, Host: host,
		Title: "editkit test message", Text: "Notifications from editkit reach this place."}
	var out []TestResult
	for _, t := range s.Targets() {
		out = append(out, TestResult{Target: t.Name(), Err: t.Send(ctx, "test-"+event.NewID(now), m)})
	}
	return out
}
