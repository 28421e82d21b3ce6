package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
)

// hookServer records what each webhook path received; fail answers 503
// while set.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][][]byte
	keys   map[string][]string
	fail   bool
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{bodies: map[string][][]byte{}, keys: map[string][]string{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want JSON", http.StatusUnsupportedMediaType)
			return
		}
		h.bodies[r.URL.Path] = append(h.bodies[r.URL.Path], body)
		h.keys[r.URL.Path] = append(h.keys[r.URL.Path], r.Header.Get("Idempotency-Key"))
		if strings.HasPrefix(r.URL.Path, "/teams") {
			w.WriteHeader(http.StatusAccepted) // what a Workflows trigger answers
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) got(path string) [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies[path]...)
}

func (h *hookServer) setFail(fail bool) {
	h.mu.Lock()
	h.fail = fail
	h.mu.Unlock()
}

func (h *hookServer) settings() Settings {
	return Settings{
		Slack:   h.URL + "/slack/T000/B000/slack-secret-token",
		Teams:   h.URL + "/teams/workflows/abc/triggers/manual/paths/invoke?sig=teams-secret-sig",
		Webhook: h.URL + "/generic",
	}
}

// Each webhook gets the payload its service takes: Slack's text, a Teams
// Workflows message with an Adaptive Card, and the documented generic
// body with its dedup key in the body and the Idempotency-Key header.
func TestWebhookPayloads(t *testing.T) {
	srv := newHookServer(t)
	ob := testOutbox(t)
	queue(t, ob, readyMessage("EDITOR1"))
	rep := flush(t, ob, srv.settings())
	if rep.Sent != 1 || rep.Waiting != 0 || len(rep.Failed) != 0 {
		t.Fatalf("flush: %+v", rep)
	}

	slack := srv.got("/slack/T000/B000/slack-secret-token")
	if len(slack) != 1 {
		t.Fatalf("slack got %d messages", len(slack))
	}
	var s struct{ Text string }
	if err := json.Unmarshal(slack[0], &s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*Drive EDITOR1 is ready*", "• Files: 120", "• Hashes: BLAKE3 and xxh128", "anna on ae-mac"} {
		if !strings.Contains(s.Text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, s.Text)
		}
	}

	teams := srv.got("/teams/workflows/abc/triggers/manual/paths/invoke")
	if len(teams) != 1 {
		t.Fatalf("teams got %d messages", len(teams))
	}
	var card struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type    string
				Version string
				Body    []struct {
					Type  string
					Text  string
					Facts []struct{ Title, Value string }
				}
			}
		}
	}
	if err := json.Unmarshal(teams[0], &card); err != nil {
		t.Fatal(err)
	}
	if card.Type != "message" || len(card.Attachments) != 1 || card.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("teams envelope: %s", teams[0])
	}
	c := card.Attachments[0].Content
	if c.Type != "AdaptiveCard" || c.Version == "" || len(c.Body) < 2 || c.Body[0].Type != "TextBlock" || c.Body[0].Text != "Drive EDITOR1 is ready" {
		t.Fatalf("teams card: %s", teams[0])
	}
	if fs := c.Body[1]; fs.Type != "FactSet" || len(fs.Facts) != 3 || fs.Facts[1].Title != "Files" || fs.Facts[1].Value != "120" {
		t.Fatalf("teams facts: %s", teams[0])
	}

	generic := srv.got("/generic")
	if len(generic) != 1 {
		t.Fatalf("generic webhook got %d messages", len(generic))
	}
	var g WebhookBody
	if err := json.Unmarshal(generic[0], &g); err != nil {
		t.Fatal(err)
	}
	if g.Version != 1 || g.ID == "" || g.Kind != DriveReady || g.Title != "Drive EDITOR1 is ready" || g.User != "anna" ||
		!g.Time.Equal(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)) || len(g.Facts) != 3 {
		t.Fatalf("generic body: %s", generic[0])
	}
	if key := srv.keys["/generic"][0]; key != g.ID {
		t.Errorf("Idempotency-Key %q, body id %q", key, g.ID)
	}
	if again := flush(t, ob, srv.settings()); again.Sent != 0 || again.Waiting != 0 {
		t.Errorf("a second flush: %+v", again)
	}
}

// A target that is down keeps its messages waiting, in order, while the
// others get theirs; when it is back each message reaches every target
// exactly once.
func TestDownThenBackExactlyOnce(t *testing.T) {
	up := newHookServer(t)
	down := newHookServer(t)
	s := Settings{Slack: up.URL + "/slack", Webhook: down.URL + "/generic"}
	ob := testOutbox(t)
	down.setFail(true)
	for _, label := range []string{"A", "B", "C"} {
		queue(t, ob, readyMessage(label))
		rep := flush(t, ob, s)
		if len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0], "webhook: the webhook answered 503") {
			t.Fatalf("flush with the webhook down: %+v", rep)
		}
	}
	if rep := flush(t, ob, s); rep.Waiting != 3 || rep.Sent != 0 {
		t.Fatalf("waiting: %+v", rep)
	}
	// The server was unreachable altogether for a while, too.
	addr := down.Listener.Addr().String()
	down.Listener.Close()
	if rep := flush(t, ob, s); rep.Waiting != 3 || len(rep.Failed) != 1 {
		t.Fatalf("flush with the webhook unreachable: %+v", rep)
	}
	down2 := newHookServerAt(t, addr)
	if rep := flush(t, ob, s); rep.Sent != 3 || rep.Waiting != 0 || len(rep.Failed) != 0 {
		t.Fatalf("flush with the webhook back: %+v", rep)
	}
	flush(t, ob, s)
	for name, got := range map[string][][]byte{"slack": up.got("/slack"), "webhook": down2.got("/generic")} {
		var titles []string
		for _, b := range got {
			var m map[string]any
			json.Unmarshal(b, &m)
			titles = append(titles, strings.SplitN(strings.Trim(firstString(m["title"], m["text"]), "*"), "*", 2)[0])
		}
		if strings.Join(titles, "|") != "Drive A is ready|Drive B is ready|Drive C is ready" {
			t.Errorf("%s received %q, want each message once, in order", name, titles)
		}
	}
}

func firstString(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// newHookServerAt starts a hook server on a given address (the one a
// stopped server had).
func newHookServerAt(t *testing.T, addr string) *hookServer {
	h := newHookServer(t)
	h.Close()
	l, err := netListen(addr)
	if err != nil {
		t.Fatal(err)
	}
	h.Server = httptest.NewUnstartedServer(h.Config.Handler)
	h.Listener = l
	h.Start()
	t.Cleanup(h.Close)
	return h
}

// A webhook that took the request but answered nothing before the timeout
// is the case no sender can settle: the message is sent again later, with
// the same dedup key, so a receiver that checks it keeps one.
func TestTimeoutBeforeAnswerResendsWithTheSameKey(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	hang := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b WebhookBody
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		ids = append(ids, b.ID)
		h := hang
		mu.Unlock()
		if h {
			<-r.Context().Done() // took it, never answers
		}
	}))
	defer srv.Close()
	s := Settings{Webhook: srv.URL, HTTP: &http.Client{Timeout: 200 * time.Millisecond}}
	ob := testOutbox(t)
	queue(t, ob, readyMessage("A"))
	if rep := flush(t, ob, s); rep.Waiting != 1 || len(rep.Failed) != 1 {
		t.Fatalf("flush against a silent webhook: %+v", rep)
	}
	mu.Lock()
	hang = false
	mu.Unlock()
	if rep := flush(t, ob, s); rep.Sent != 1 {
		t.Fatalf("flush: %+v", rep)
	}
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" {
		t.Fatalf("ids received %q: want the same dedup key twice", ids)
	}
}

// No error a webhook produces shows its URL's token.
func TestWebhookErrorsHideTheURL(t *testing.T) {
	srv := newHookServer(t)
	srv.setFail(true)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, s := range []Settings{
		{Slack: srv.URL + "/services/T1/B1/slack-secret-token", Teams: srv.URL + "/invoke?sig=teams-secret-sig"},
		{Slack: closed.URL + "/services/T1/B1/slack-secret-token", Webhook: closed.URL + "/hook?token=generic-secret"},
		{Teams: "https://example.invalid:99999/x?sig=teams-secret-sig"},
	} {
		ob := testOutbox(t)
		queue(t, ob, readyMessage("A"))
		rep := flush(t, ob, s)
		if len(rep.Failed) == 0 {
			t.Fatalf("no failure reported: %+v", rep)
		}
		all := strings.Join(rep.Failed, "\n")
		for _, secret := range []string{"slack-secret-token", "teams-secret-sig", "generic-secret", "T1/B1"} {
			if strings.Contains(all, secret) {
				t.Errorf("an error shows %q: %s", secret, all)
			}
		}
	}
}

// A target skipped because it failed earlier in the same run still gets
// the messages the other targets took meanwhile: a message is done only
// when every configured target has it.
func TestSkippedTargetStillGetsItsMessages(t *testing.T) {
	up, down := newHookServer(t), newHookServer(t)
	s := Settings{Slack: up.URL + "/slack", Webhook: down.URL + "/generic"}
	ob := testOutbox(t)
	down.setFail(true)
	skip := map[string]bool{}
	flushWith := func() Report {
		snd, err := ob.Lock(context.Background(), outbox.Notify, tracker.RealClock(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer snd.Close()
		rep, err := Flush(context.Background(), snd, s.Targets(), skip)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	queue(t, ob, readyMessage("A"))
	flushWith()
	down.setFail(false) // back, but this run no longer tries it
	queue(t, ob, readyMessage("B"))
	if rep := flushWith(); rep.Waiting != 2 || len(down.got("/generic")) != 0 {
		t.Fatalf("second flush of the run: %+v", rep)
	}
	if rep := flush(t, ob, s); rep.Sent != 2 || len(down.got("/generic")) != 2 || len(up.got("/slack")) != 2 {
		t.Fatalf("the next run: %+v; webhook got %d, slack %d", rep, len(down.got("/generic")), len(up.got("/slack")))
	}
}
