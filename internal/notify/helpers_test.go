package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
)

// testOutbox is an outbox in a temporary folder.
func testOutbox(t *testing.T) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// flush takes the notify lock and flushes, as a command does.
func flush(t *testing.T, ob *outbox.Outbox, s Settings) Report {
	t.Helper()
	snd, err := ob.Lock(context.Background(), outbox.Notify, tracker.RealClock(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	rep, err := Flush(context.Background(), snd, s.Targets(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func queue(t *testing.T, ob *outbox.Outbox, m Message) {
	t.Helper()
	if err := Queue(ob, m); err != nil {
		t.Fatal(err)
	}
}

// testCert is a certificate for 127.0.0.1 and localhost, and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "editkit test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func readyMessage(label string) Message {
	return Message{Kind: DriveReady, Title: "Drive " + label + " is ready", User: "anna", Host: "ae-mac",
		Time:  time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC),
		Facts: []Fact{{"Drive", label}, {"Files", "120"}, {"Hashes", "BLAKE3 and xxh128 of every file, read back from the drive"}}}
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
