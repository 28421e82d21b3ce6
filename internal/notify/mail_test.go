package notify

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailServer is an SMTP server (go-smtp) on 127.0.0.1 offering STARTTLS
// with a test certificate and AUTH PLAIN; it records what it was told.
type mailServer struct {
	addr string
	mu   sync.Mutex
	msgs []receivedMail
	// logins records each AUTH attempt and whether it came over TLS.
	logins []string
}

type receivedMail struct {
	from string
	to   []string
	data string
	user string
}

type mailSession struct {
	s    *mailServer
	conn *smtp.Conn
	cur  receivedMail
}

func (m *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (m *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		_, tlsOn := m.conn.TLSConnectionState()
		m.s.mu.Lock()
		m.s.logins = append(m.s.logins, user+" tls="+map[bool]string{true: "yes", false: "no"}[tlsOn])
		m.s.mu.Unlock()
		if user != "editkit" || pass != "smtp-secret-pw" {
			return errors.New("invalid credentials")
		}
		m.cur.user = user
		return nil
	}), nil
}

func (m *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if m.cur.user == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	m.cur.from = from
	return nil
}

func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	m.cur.to = append(m.cur.to, to)
	return nil
}

func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.cur.data = string(b)
	m.s.mu.Lock()
	m.s.msgs = append(m.s.msgs, m.cur)
	m.s.mu.Unlock()
	return nil
}

func (m *mailSession) Reset()        { m.cur = receivedMail{user: m.cur.user} }
func (m *mailSession) Logout() error { return nil }

func startMailServer(t *testing.T, offerTLS bool) (*mailServer, Mail) {
	t.Helper()
	cert, pool := testCert(t)
	ms := &mailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{s: ms, conn: c}, nil
	}))
	srv.Domain = "localhost"
	if offerTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		srv.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	ms.addr = l.Addr().String()
	return ms, Mail{Addr: ms.addr, User: "editkit", Password: "smtp-secret-pw",
		From: "editkit <editkit@example.com>", To: []string{"post@example.com", "Ben <ben@example.com>"},
		TLS: &tls.Config{RootCAs: pool}}
}

// E-mail goes over STARTTLS, logs in, and carries the message with its
// dedup key as Message-ID.
func TestMailOverSTARTTLSWithAuth(t *testing.T) {
	ms, m := startMailServer(t, true)
	ob := testOutbox(t)
	queue(t, ob, readyMessage("EDITOR1"))
	if rep := flush(t, ob, Settings{Mail: m}); rep.Sent != 1 || len(rep.Failed) != 0 {
		t.Fatalf("flush: %+v", rep)
	}
	if len(ms.logins) != 1 || ms.logins[0] != "editkit tls=yes" {
		t.Fatalf("logins %q: want one, over TLS", ms.logins)
	}
	if len(ms.msgs) != 1 {
		t.Fatalf("%d messages received", len(ms.msgs))
	}
	got := ms.msgs[0]
	if got.from != "editkit@example.com" || strings.Join(got.to, ",") != "post@example.com,ben@example.com" {
		t.Errorf("envelope from %q to %q", got.from, got.to)
	}
	for _, want := range []string{"Subject: [editkit] Drive EDITOR1 is ready", "Message-ID: <2", "@editkit>", "X-Editkit-Kind: drive-ready",
		"Files: 120", "Hashes: BLAKE3 and xxh128 of every file, read back from the drive"} {
		if !strings.Contains(strings.ReplaceAll(got.data, "=\r\n", ""), want) {
			t.Errorf("the mail lacks %q:\n%s", want, got.data)
		}
	}
}

// A server that does not offer STARTTLS is refused before the password is
// sent; a wrong password is reported without showing it.
func TestMailRefusesCleartextAndHidesThePassword(t *testing.T) {
	ms, m := startMailServer(t, false)
	ob := testOutbox(t)
	queue(t, ob, readyMessage("A"))
	rep := flush(t, ob, Settings{Mail: m})
	if rep.Waiting != 1 || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0], "does not offer STARTTLS") {
		t.Fatalf("flush to a server without STARTTLS: %+v", rep)
	}
	if len(ms.logins) != 0 {
		t.Fatalf("credentials were sent in clear: %q", ms.logins)
	}

	_, m = startMailServer(t, true)
	m.Password = "wrong-secret-pw"
	rep = flush(t, ob, Settings{Mail: m})
	if rep.Waiting != 1 || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0], "login as editkit refused") || strings.Contains(rep.Failed[0], "secret-pw") {
		t.Fatalf("flush with a wrong password: %+v", rep)
	}
}
