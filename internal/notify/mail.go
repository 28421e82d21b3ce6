package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// mailer sends e-mail with the standard library's net/smtp: STARTTLS is
// required, AUTH PLAIN follows it (net/smtp refuses PLAIN over a
// connection that is not encrypted).
type mailer struct{ m Mail }

func (t *mailer) Name() string { return "email" }

// mailTimeout bounds one message's whole SMTP conversation.
const mailTimeout = time.Minute

func (t *mailer) Send(ctx context.Context, id string, msg Message) error {
	err := t.send(ctx, id, msg)
	if err != nil {
		return fmt.Errorf("email via %s: %w", t.m.Addr, err)
	}
	return nil
}

func (t *mailer) send(ctx context.Context, id string, msg Message) error {
	from, err := mail.ParseAddress(t.m.From)
	if err != nil {
		return fmt.Errorf("[notify] from %q: %v", t.m.From, err)
	}
	var to []*mail.Address
	for _, s := range t.m.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return fmt.Errorf("[notify] to %q: %v", s, err)
		}
		to = append(to, a)
	}
	if len(to) == 0 {
		return errors.New("[notify] to names nobody")
	}
	host, _, err := net.SplitHostPort(t.m.Addr)
	if err != nil {
		return fmt.Errorf("[notify] smtp %q: want host:port", t.m.Addr)
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", t.m.Addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return errors.New("the server does not offer STARTTLS; editkit sends mail only over an encrypted connection")
	}
	cfg := &tls.Config{}
	if t.m.TLS != nil {
		cfg = t.m.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if err := c.StartTLS(cfg); err != nil {
		return fmt.Errorf("STARTTLS: %w", err)
	}
	if t.m.User != "" {
		if err := c.Auth(smtp.PlainAuth("", t.m.User, t.m.Password, host)); err != nil {
			return fmt.Errorf("login as %s refused: %w (check smtp_user and EDITKIT_SMTP_PASSWORD)", t.m.User, err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("recipient %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(mailBody(id, from, to, msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Quit() // the server took the message; a lost goodbye changes nothing
	return nil
}

// mailBody is the message: headers, then the text, quoted-printable.
// Message-ID is derived from the dedup key, so a message sent twice (after
// a crash) is recognisably one.
func mailBody(id string, from *mail.Address, to []*mail.Address, m Message) []byte {
	var b bytes.Buffer
	date := m.Time
	if date.IsZero() {
		date = time.Now()
	}
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	var names []string
	for _, a := range to {
		names = append(names, a.String())
	}
	hdr("To", strings.Join(names, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", "[editkit] "+m.Title))
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+"@editkit>")
	hdr("X-Editkit-Kind", m.Kind)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.Title+"\n\n"+m.plain("")+"\n", "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}
