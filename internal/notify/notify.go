// Package notify owns telling the team what happened without being asked:
// which events are worth a message (a drive ready, a copy, verify or backup
// that failed, and a morning digest of the media pushed and pulled), the
// words of each message, and their delivery to the team's targets —
// Slack-compatible incoming webhooks, Microsoft Teams Workflows webhooks, a
// generic JSON webhook and e-mail over SMTP with STARTTLS.
//
// A message is composed once and queued in the outbox (destination
// outbox.Notify) before anything is sent, so it is never lost; it is sent
// to each target until that target has answered, and never again after
// that. A sender killed after a target took a message but before its
// receipt was saved sends it again: delivery is at least once, and every
// copy of one message carries the same dedup key (the generic webhook's
// "id" and Idempotency-Key header, the e-mail's Message-ID).
package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kinds of message.
const (
	DriveReady   = "drive-ready"
	CopyFailed   = "copy-failed"
	VerifyFailed = "verify-failed"
	BackupFailed = "backup-failed"
	Digest       = "digest"
	Test         = "test"
)

// Fact is one labelled value of a message (drive, size, files…).
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message is one notification, as the people reading it see it.
type Message struct {
	Kind  string    `json:"kind"`
	Title string    `json:"title"`          // one line, the news
	Text  string    `json:"text,omitempty"` // a few lines more, when needed
	Facts []Fact    `json:"facts,omitempty"`
	Time  time.Time `json:"time"`
	User  string    `json:"user,omitempty"`
	Host  string    `json:"host,omitempty"`
	// LogUntil is, for a digest, the last event-log object it covers: the
	// next digest starts after it.
	LogUntil string `json:"log_until,omitempty"`
}

// plain renders the message as text: the title, the text, then one line
// per fact (e-mail bodies, Slack).
func (m Message) plain(bullet string) string {
	var b strings.Builder
	if m.Text != "" {
		b.WriteString(m.Text)
		b.WriteString("\n")
	}
	for _, f := range m.Facts {
		fmt.Fprintf(&b, "%s%s: %s\n", bullet, f.Name, f.Value)
	}
	if by := m.by(); by != "" {
		fmt.Fprintf(&b, "(%s)\n", by)
	}
	return strings.TrimRight(b.String(), "\n")
}

// by says who ran the command that sent the message, where and when.
func (m Message) by() string {
	var who []string
	if m.User != "" {
		who = append(who, m.User)
	}
	if m.Host != "" {
		who = append(who, "on "+m.Host)
	}
	if !m.Time.IsZero() {
		who = append(who, m.Time.Local().Format("Mon 2 Jan 15:04"))
	}
	return strings.Join(who, " ")
}

func decode(raw json.RawMessage) (Message, error) {
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, err
	}
	if m.Kind == "" || m.Title == "" {
		return m, fmt.Errorf("a message without kind or title")
	}
	return m, nil
}
