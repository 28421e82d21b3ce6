package hubkey

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test/s3open"
	"golang.org/x/crypto/ssh"
)

func newHub(t *testing.T) *backend.Local {
	t.Helper()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type person struct {
	id   *age.X25519Identity
	rcpt Recipient
}

func newPerson(t *testing.T, label string) person {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return person{id: id, rcpt: Recipient{Key: id.Recipient().String(), Label: label}}
}

func (p person) ids() []age.Identity { return []age.Identity{p.id} }

func mustLoad(t *testing.T, b backend.Backend, p person) *Keys {
	t.Helper()
	k, err := Load(context.Background(), b, p.ids(), "")
	if err != nil {
		t.Fatalf("Load for %s: %v", p.rcpt.Label, err)
	}
	return k
}

func TestOneRecipientRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := newHub(t)
	if _, err := Load(ctx, b, nil, ""); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("Load of a hub without keyring: %v, want ErrNotEncrypted", err)
	}
	maria := newPerson(t, "maria@laptop")
	k, err := Init(ctx, b, []Recipient{maria.rcpt})
	if err != nil {
		t.Fatal(err)
	}
	if k.Current != 1 || len(k.Data) != 1 || k.HubID == [16]byte{} || k.IDKey == [32]byte{} || k.CurrentKey() == [32]byte{} {
		t.Fatalf("new keys: %+v", k)
	}
	got := mustLoad(t, b, maria)
	if got.HubID != k.HubID || got.IDKey != k.IDKey || got.Current != 1 || got.Data[1] != k.Data[1] {
		t.Fatalf("loaded %+v, created %+v", got, k)
	}
	if _, err := Init(ctx, b, []Recipient{maria.rcpt}); !errors.Is(err, ErrKeyringExists) {
		t.Fatalf("second Init: %v, want ErrKeyringExists", err)
	}
	rs, err := List(ctx, b, maria.ids(), "")
	if err != nil || len(rs) != 1 || rs[0] != maria.rcpt {
		t.Fatalf("List = %v, %v", rs, err)
	}
}

func TestThreeRecipientsAndARemovedOne(t *testing.T) {
	ctx := context.Background()
	b := newHub(t)
	a, bo, c := newPerson(t, "ana"), newPerson(t, "bo"), newPerson(t, "cy")
	k1, err := Init(ctx, b, []Recipient{a.rcpt, bo.rcpt, c.rcpt})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []person{a, bo, c} {
		if k := mustLoad(t, b, p); k.Data[1] != k1.Data[1] || k.IDKey != k1.IDKey {
			t.Fatalf("%s reads other keys", p.rcpt.Label)
		}
	}
	k2, err := Remove(ctx, b, a.ids(), "", "bo") // by label
	if err != nil {
		t.Fatal(err)
	}
	if k2.Current != 2 || k2.Data[2] == k1.Data[1] || k2.Data[1] != k1.Data[1] || k2.IDKey != k1.IDKey || k2.HubID != k1.HubID {
		t.Fatalf("after removal: current %d, want a new epoch 2 with a new data key, the old epoch kept and the ID key and hub ID unchanged", k2.Current)
	}
	for _, p := range []person{a, c} {
		k := mustLoad(t, b, p)
		if k.Current != 2 || k.Data[1] != k1.Data[1] || k.Data[2] != k2.Data[2] {
			t.Fatalf("%s after removal: %+v", p.rcpt.Label, k)
		}
	}
	// The removed identity cannot unwrap the generation holding epoch 2.
	data := readObject(t, b, generationKey(2))
	if _, err := age.Decrypt(bytes.NewReader(data), bo.ids()...); err == nil {
		t.Fatal("the removed identity decrypts the rotated keyring")
	}
	var nk *NoKeyError
	if _, err := Load(ctx, b, bo.ids(), ""); !errors.As(err, &nk) || nk.Holders != 2 || len(nk.Yours) != 1 || nk.Yours[0].Key != bo.rcpt.Key {
		t.Fatalf("Load for the removed person: %v, want a NoKeyError for 2 holders naming their key", err)
	}
	rs, _ := List(ctx, b, c.ids(), "")
	if len(rs) != 2 || rs[0].Key != a.rcpt.Key || rs[1].Key != c.rcpt.Key {
		t.Fatalf("keyholders after removal: %v", rs)
	}
	if _, err := Remove(ctx, b, a.ids(), "", bo.rcpt.Key); !errors.Is(err, ErrNotKeyholder) {
		t.Fatalf("removing bo again: %v, want ErrNotKeyholder", err)
	}
	if _, err := Remove(ctx, b, a.ids(), "", c.rcpt.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := Remove(ctx, b, a.ids(), "", a.rcpt.Key); err == nil || !strings.Contains(err.Error(), "only keyholder") {
		t.Fatalf("removing the last keyholder: %v", err)
	}
	if err := Add(ctx, b, a.ids(), "", c.rcpt); err != nil {
		t.Fatal(err)
	}
	if k := mustLoad(t, b, c); len(k.Data) != 3 || k.Current != 3 {
		t.Fatalf("re-added keyholder reads epochs %v, current %d; want all 3", k.Data, k.Current)
	}
	if err := Add(ctx, b, a.ids(), "", c.rcpt); !errors.Is(err, ErrAlreadyKeyholder) {
		t.Fatalf("adding a keyholder twice: %v", err)
	}
}

func readObject(t *testing.T, b backend.Backend, key string) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Keyholders adding people at once from several computers: every one
// lands (a conditional create loses, re-reads and applies its change
// again), on a folder hub and on the real S3 server.
func TestConcurrentAddsBothLand(t *testing.T) {
	stores := map[string]func(t *testing.T) backend.Backend{
		"folder": func(t *testing.T) backend.Backend { return newHub(t) },
		"s3": func(t *testing.T) backend.Backend {
			_, b := s3open.Start(t, "hub")
			return b
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { concurrentAdds(t, open(t)) })
	}
}

func concurrentAdds(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	a := newPerson(t, "ana")
	if _, err := Init(ctx, b, []Recipient{a.rcpt}); err != nil {
		t.Fatal(err)
	}
	newcomers := []person{newPerson(t, "bo"), newPerson(t, "cy"), newPerson(t, "di"), newPerson(t, "ed")}
	var wg sync.WaitGroup
	errs := make([]error, len(newcomers))
	start := make(chan struct{})
	for i, p := range newcomers {
		wg.Go(func() {
			<-start
			errs[i] = Add(ctx, b, a.ids(), "", p.rcpt)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Add %s: %v", newcomers[i].rcpt.Label, err)
		}
	}
	rs, err := List(ctx, b, a.ids(), "")
	if err != nil || len(rs) != 1+len(newcomers) {
		t.Fatalf("keyholders after concurrent adds: %v, %v", rs, err)
	}
	for _, p := range newcomers {
		mustLoad(t, b, p)
	}
}

func writeSSHKey(t *testing.T, dir string, passphrase string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "maria@edit-bay")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "maria@edit-bay", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, spk
}

func TestSSHEd25519RecipientRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := newHub(t)
	path, pub := writeSSHKey(t, t.TempDir(), "")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " maria@edit-bay"
	r, err := ParseRecipient(line)
	if err != nil {
		t.Fatal(err)
	}
	if r.Label != "maria@edit-bay" || strings.Contains(r.Key, "maria") {
		t.Fatalf("parsed %q as %+v: want the comment as label, not in the key", line, r)
	}
	ids, err := ReadIdentityFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids.Recipients) != 1 || ids.Recipients[0].Key != r.Key {
		t.Fatalf("identity's recipient %v, want %s", ids.Recipients, r.Key)
	}
	k, err := Init(ctx, b, []Recipient{r})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(ctx, b, ids.IDs, "")
	if err != nil || got.Data[1] != k.Data[1] {
		t.Fatalf("Load with the SSH key: %v", err)
	}
	// Removing it by the line as in id_ed25519.pub, comment and all.
	other := newPerson(t, "ana")
	if err := Add(ctx, b, ids.IDs, "", other.rcpt); err != nil {
		t.Fatal(err)
	}
	if _, err := Remove(ctx, b, other.ids(), "", line); err != nil {
		t.Fatal(err)
	}
}

func TestPassphraseProtectedSSHKeyIsNamed(t *testing.T) {
	ctx := context.Background()
	b := newHub(t)
	path, pub := writeSSHKey(t, t.TempDir(), "secret")
	r, err := ParseRecipient(string(ssh.MarshalAuthorizedKey(pub)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(ctx, b, []Recipient{r, newPerson(t, "ana").rcpt}); err != nil {
		t.Fatal(err)
	}
	ids, err := ReadIdentityFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(ctx, b, ids.IDs, "")
	var nk *NoKeyError
	if !errors.As(err, &nk) || nk.Locked != path || !strings.Contains(err.Error(), "passphrase") || !strings.Contains(err.Error(), "editkit key new") {
		t.Fatalf("Load with a passphrase-protected key: %v", err)
	}
}

func TestNoKeyErrorIsOneSentence(t *testing.T) {
	you := Recipient{Key: "age1xyz"}
	for _, tc := range []struct {
		err  NoKeyError
		want string
	}{
		{NoKeyError{Hub: "s3://b/p", Holders: 3, Yours: []Recipient{you}},
			"the hub s3://b/p is encrypted for 3 people and your key age1xyz is not among them: ask a keyholder to run `editkit hub keys add age1xyz`"},
		{NoKeyError{Hub: "/hub", Holders: 1},
			"the hub /hub is encrypted for 1 person and you have no key: run `editkit key new` first, then ask a keyholder to run `editkit hub keys add <the recipient it prints>`"},
		{NoKeyError{Hub: "/hub", Holders: 2, Yours: []Recipient{you, {Key: "ssh-ed25519 AAAA"}}},
			"the hub /hub is encrypted for 2 people and none of your keys (age1xyz, ssh-ed25519 AAAA) is among them: ask a keyholder to run `editkit hub keys add age1xyz`"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		if !errors.Is(&tc.err, ErrNoKey) {
			t.Error("a NoKeyError is not ErrNoKey")
		}
	}
}

// A keyring object damaged or planted by someone who can write to the
// bucket is refused with the object named, never a panic, never a
// keyring whose data key the planter knows.
func TestDamagedOrForgedKeyringIsRefused(t *testing.T) {
	ctx := context.Background()
	a := newPerson(t, "ana")
	setup := func(t *testing.T) *backend.Local {
		b := newHub(t)
		if _, err := Init(ctx, b, []Recipient{a.rcpt}); err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(t *testing.T, b backend.Backend, key string, data []byte) {
		if err := b.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("flipped byte", func(t *testing.T) {
		b := setup(t)
		data := readObject(t, b, generationKey(1))
		data[len(data)-5] ^= 1
		put(t, b, generationKey(1), data)
		if _, err := Load(ctx, b, a.ids(), ""); err == nil || !strings.Contains(err.Error(), generationKey(1)) {
			t.Fatalf("Load of a flipped keyring: %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		b := setup(t)
		data := readObject(t, b, generationKey(1))
		put(t, b, generationKey(1), data[:len(data)/2])
		if _, err := Load(ctx, b, a.ids(), ""); err == nil || !strings.Contains(err.Error(), generationKey(1)) {
			t.Fatalf("Load of a truncated keyring: %v", err)
		}
	})
	t.Run("planted generation", func(t *testing.T) {
		b := setup(t)
		// Someone who knows ana's public key (but none of the hub's
		// secrets) writes the next generation with keys of their own.
		planted := &ring{Generation: 2, Current: 1, Data: map[uint32][]byte{1: randomBytes(32)},
			HubID: randomBytes(16), IDKey: randomBytes(32), Recipients: []Recipient{a.rcpt}}
		if err := writeGeneration(ctx, b, planted, randomBytes(32)); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, b, a.ids(), ""); err == nil || !strings.Contains(err.Error(), "not written by a keyholder") {
			t.Fatalf("Load of a planted generation: %v", err)
		}
	})
	t.Run("generation skipped", func(t *testing.T) {
		b := setup(t)
		planted := &ring{Generation: 3, Current: 1, Data: map[uint32][]byte{1: randomBytes(32)},
			HubID: randomBytes(16), IDKey: randomBytes(32), Recipients: []Recipient{a.rcpt}}
		if err := writeGeneration(ctx, b, planted, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, b, a.ids(), ""); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("Load of a generation whose predecessor is missing: %v", err)
		}
	})
	t.Run("old generation copied as new", func(t *testing.T) {
		b := setup(t)
		put(t, b, generationKey(2), readObject(t, b, generationKey(1)))
		if _, err := Load(ctx, b, a.ids(), ""); err == nil || !strings.Contains(err.Error(), "generation 1") {
			t.Fatalf("Load of a copied generation: %v", err)
		}
	})
	t.Run("not age at all", func(t *testing.T) {
		b := newHub(t)
		put(t, b, generationKey(1), []byte("hello"))
		if _, err := Load(ctx, b, a.ids(), ""); err == nil || !strings.Contains(err.Error(), generationKey(1)) {
			t.Fatalf("Load of garbage: %v", err)
		}
	})
	t.Run("strays ignored", func(t *testing.T) {
		b := setup(t)
		put(t, b, Prefix+"README", []byte("x"))
		put(t, b, Prefix+"00000000000000000009.tmp", []byte("x"))
		mustLoad(t, b, a)
	})
}

func TestNewIdentityFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "editkit")
	path := filepath.Join(dir, IdentityFileName)
	r, err := NewIdentityFile(path, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v, %v; want mode 0600", fi, err)
	}
	ids, err := ReadIdentityFile(path)
	if err != nil || len(ids.Recipients) != 1 || ids.Recipients[0].Key != r.Key {
		t.Fatalf("reading it back: %v, %v", ids, err)
	}
	before, _ := os.ReadFile(path)
	if _, err := NewIdentityFile(path, time.Now()); err == nil || !strings.Contains(err.Error(), "never replaces") {
		t.Fatalf("second NewIdentityFile: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the identity was replaced")
	}
	link := filepath.Join(dir, "link.txt")
	os.Symlink(filepath.Join(dir, "elsewhere"), link)
	if _, err := NewIdentityFile(link, time.Now()); err == nil {
		t.Fatal("NewIdentityFile wrote through a dangling link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); err == nil {
		t.Fatal("NewIdentityFile created the link's target")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestFindIdentities(t *testing.T) {
	home, cfg := t.TempDir(), t.TempDir()
	def := filepath.Join(cfg, IdentityFileName)
	ids, err := FindIdentities("", def, home)
	if err != nil || len(ids.IDs) != 0 {
		t.Fatalf("no identities anywhere: %v, %v", ids, err)
	}
	if _, err := FindIdentities(filepath.Join(cfg, "named.txt"), def, home); err == nil {
		t.Fatal("a named identity file that is missing is not an error")
	}
	r, err := NewIdentityFile(def, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(home, ".ssh"), 0o700)
	_, pub := writeSSHKey(t, filepath.Join(home, ".ssh"), "")
	ids, err = FindIdentities("", def, home)
	if err != nil || len(ids.IDs) != 2 || ids.Recipients[0].Key != r.Key || ids.Recipients[1].Key != sshKeyLine(pub) {
		t.Fatalf("default identity and ~/.ssh/id_ed25519: %+v, %v", ids, err)
	}
}

func TestParseRecipientNeverEchoesAPrivateKey(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, s := range []string{id.String(), strings.ToLower(id.String()), "-----BEGIN OPENSSH PRIVATE KEY-----"} {
		_, err := ParseRecipient(s)
		if !errors.Is(err, ErrPrivateKey) || strings.Contains(err.Error(), s) {
			t.Errorf("ParseRecipient of a private key: %v", err)
		}
	}
}

func TestParseRecipientRefusesOthers(t *testing.T) {
	for _, s := range []string{"", "age1notakey", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "AGE-SECRET-KEY-1ABC", "hello"} {
		if _, err := ParseRecipient(s); err == nil {
			t.Errorf("ParseRecipient(%q) accepted it", s)
		}
	}
}

func FuzzKeyringPlaintext(f *testing.F) {
	f.Add([]byte(`{"keyring":{"version":1,"generation":1},"link":""}`))
	f.Add([]byte(`{"keyring":{"version":1,"generation":1,"hub_id":"AAAAAAAAAAAAAAAAAAAAAA==","current_epoch":1,"data_keys":{"1":"x"}}}`))
	id, _ := age.GenerateX25519Identity()
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, id.Recipient())
	w.Write([]byte(`{"keyring":{}}`))
	w.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		parseEnvelope(data, "keys/x", 1)
		openGeneration(data, "keys/x", 1, []age.Identity{id})
	})
}
