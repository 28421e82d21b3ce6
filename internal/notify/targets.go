package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Settings are the team's notification targets; empty ones are off.
type Settings struct {
	Slack   string // Slack (or compatible: Mattermost, Rocket.Chat) incoming-webhook URL
	Teams   string // Teams Workflows "When a Teams webhook request is received" URL
	Webhook string // generic JSON webhook URL (body: see WebhookBody)
	Mail    Mail
	// HTTP is the client for webhooks (nil: one with a 30-second timeout).
	HTTP *http.Client
}

// Mail is e-mail over SMTP. The connection is upgraded with STARTTLS
// before anything else is said; a server that does not offer it is
// refused, so a password never crosses the network in clear.
type Mail struct {
	Addr     string // host:port, usually port 587
	User     string // with Password: AUTH PLAIN after STARTTLS
	Password string
	From     string
	To       []string
	TLS      *tls.Config // nil: the system's roots, checking the server's name
}

// Target is one place messages go.
type Target interface {
	// Name is the target's name in receipts and messages: slack, teams,
	// webhook, email. Never its URL: the URL holds a token.
	Name() string
	// Send delivers m; id is its dedup key, the same on every attempt.
	Send(ctx context.Context, id string, m Message) error
}

// Targets returns the configured targets, in a fixed order.
func (s Settings) Targets() []Target {
	client := s.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var ts []Target
	if s.Slack != "" {
		ts = append(ts, &webhook{name: "slack", url: s.Slack, client: client, body: slackBody})
	}
	if s.Teams != "" {
		ts = append(ts, &webhook{name: "teams", url: s.Teams, client: client, body: teamsBody})
	}
	if s.Webhook != "" {
		ts = append(ts, &webhook{name: "webhook", url: s.Webhook, client: client, body: genericBody})
	}
	if s.Mail.Addr != "" {
		ts = append(ts, &mailer{m: s.Mail})
	}
	return ts
}

// Check reports what is wrong with the settings, without sending anything
// (editkit doctor). Nothing it says contains a secret.
func (s Settings) Check() []error {
	var errs []error
	for _, w := range []struct{ name, url string }{{"slack", s.Slack}, {"teams", s.Teams}, {"webhook", s.Webhook}} {
		if w.url == "" {
			continue
		}
		u, err := url.Parse(w.url)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("[notify] %s is not an http(s) URL", w.name))
		} else if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("[notify] %s is plain http: its token would cross the network in clear; use https", w.name))
		}
	}
	if m := s.Mail; m.Addr != "" {
		if !strings.Contains(m.Addr, ":") {
			errs = append(errs, fmt.Errorf("[notify] smtp %q: want host:port, e.g. smtp.example.com:587", m.Addr))
		}
		if m.From == "" || len(m.To) == 0 {
			errs = append(errs, errors.New("[notify] smtp is set but from or to is not: set both"))
		}
		if m.User != "" && m.Password == "" {
			errs = append(errs, errors.New("[notify] smtp_user is set but no password: set EDITKIT_SMTP_PASSWORD (or smtp_password)"))
		}
	}
	return errs
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// webhook posts a JSON body to a URL.
type webhook struct {
	name   string
	url    string
	client *http.Client
	body   func(id string, m Message) any
}

func (w *webhook) Name() string { return w.name }

func (w *webhook) Send(ctx context.Context, id string, m Message) error {
	data, err := json.Marshal(w.body(id, m))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: the URL in the settings is not valid", w.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", id)
	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error repeats the URL, token and all: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %v", w.name, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: the webhook answered %s: %s", w.name, resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

// slackBody is an incoming-webhook message: text in Slack's mrkdwn, which
// Slack-compatible servers (Mattermost, Rocket.Chat) also take.
func slackBody(_ string, m Message) any {
	return map[string]string{"text": "*" + m.Title + "*\n" + m.plain("• ")}
}

// teamsBody is what a Teams Workflows webhook trigger ("When a Teams
// webhook request is received", then "Post card in a chat or channel")
// takes: a message with one Adaptive Card attachment. The retired Office
// 365 connectors' MessageCard is not accepted there.
func teamsBody(_ string, m Message) any {
	body := []any{map[string]any{"type": "TextBlock", "text": m.Title, "weight": "Bolder", "size": "Medium", "wrap": true}}
	if m.Text != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": m.Text, "wrap": true})
	}
	if len(m.Facts) > 0 {
		facts := make([]map[string]string, len(m.Facts))
		for i, f := range m.Facts {
			facts[i] = map[string]string{"title": f.Name, "value": f.Value}
		}
		body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	}
	if by := m.by(); by != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": by, "isSubtle": true, "size": "Small", "wrap": true})
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    body,
			},
		}},
	}
}

// WebhookVersion is the version of the generic webhook's body. A change
// that could break a reader gets a new version.
const WebhookVersion = 1

// WebhookBody is the generic webhook's JSON body, version 1. ID is the
// dedup key: a receiver that sees an ID again has the message already
// (the same ID also comes in the Idempotency-Key header).
type WebhookBody struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Kind    string    `json:"kind"` // drive-ready, copy-failed, verify-failed, backup-failed, digest, test
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`
	Host    string    `json:"host,omitempty"`
	Title   string    `json:"title"`
	Text    string    `json:"text,omitempty"`
	Facts   []Fact    `json:"facts,omitempty"`
}

func genericBody(id string, m Message) any {
	return WebhookBody{Version: WebhookVersion, ID: id, Kind: m.Kind, Time: m.Time.UTC(), User: m.User, Host: m.Host,
		Title: m.Title, Text: m.Text, Facts: m.Facts}
}
