package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/ssh"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hubkey"
)

// keyPerson is someone with their own settings folder and home, who runs
// editkit against a test hub.
type keyPerson struct {
	env  []string
	cfg  string // the settings folder
	home string
}

func newKeyPerson(t *testing.T, h *testHub) *keyPerson {
	t.Helper()
	p := &keyPerson{cfg: filepath.Join(t.TempDir(), "config"), home: t.TempDir()}
	var base []string
	if h != nil {
		base = h.env
	} else {
		base = stateEnv(t)
	}
	p.env = append(append([]string{}, base...), "XDG_CONFIG_HOME="+p.cfg, "HOME="+p.home)
	return p
}

func (p *keyPerson) run(t *testing.T, args ...string) result {
	t.Helper()
	return editkitEnv(t, p.env, args...)
}

func (p *keyPerson) settingsFile() string { return filepath.Join(p.cfg, "editkit", "config.toml") }
func (p *keyPerson) identityFile() string { return filepath.Join(p.cfg, "editkit", "identity.txt") }

// newKey runs `editkit key new` and returns the recipient it printed.
func (p *keyPerson) newKey(t *testing.T) string {
	t.Helper()
	r := p.run(t, "key", "new")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "age1") {
		t.Fatalf("key new: %s", r)
	}
	return strings.TrimSpace(r.stdout)
}

func TestE2EKeyNewAndShow(t *testing.T) {
	p := newKeyPerson(t, nil)
	if r := p.run(t, "key", "show"); r.code != 2 || !strings.Contains(r.stderr, "editkit key new") {
		t.Fatalf("key show without a key: %s", r)
	}
	rcpt := p.newKey(t)
	fi, err := os.Stat(p.identityFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity %s: %v, %v; want mode 0600", p.identityFile(), fi, err)
	}
	before, _ := os.ReadFile(p.identityFile())
	if !strings.Contains(string(before), "AGE-SECRET-KEY-1") || strings.Contains(rcpt, "SECRET") {
		t.Fatal("the identity file holds no age secret key, or the secret was printed")
	}
	r := p.run(t, "key", "new")
	if r.code != 2 || !strings.Contains(r.stderr, "never replaces") || r.stdout != "" {
		t.Fatalf("second key new: %s", r)
	}
	if after, _ := os.ReadFile(p.identityFile()); string(after) != string(before) {
		t.Fatal("key new replaced an identity")
	}
	if r := p.run(t, "key", "show"); r.code != 0 || strings.TrimSpace(r.stdout) != rcpt {
		t.Fatalf("key show: %s, want %s", r, rcpt)
	}
	// --identity names another file, for key new and key show alike.
	other := filepath.Join(t.TempDir(), "work.txt")
	r = p.run(t, "key", "new", "--identity", other)
	if r.code != 0 || strings.TrimSpace(r.stdout) == rcpt {
		t.Fatalf("key new --identity: %s", r)
	}
	if s := p.run(t, "key", "show", "--identity", other); strings.TrimSpace(s.stdout) != strings.TrimSpace(r.stdout) {
		t.Fatalf("key show --identity: %s", s)
	}
	if s := editkitEnv(t, append(p.env, "EDITKIT_IDENTITY="+filepath.Join(t.TempDir(), "missing.txt")), "key", "show"); s.code != 2 || !strings.Contains(s.stderr, "missing.txt") {
		t.Fatalf("key show with a named identity that is missing: %s", s)
	}
}

// The whole life of an encrypted hub's keyring, on a folder hub and on
// the real S3 server: init records the hub, someone without a key gets
// exit 2 and one sentence, keys add lets them in, keys remove shuts them
// out of the rotated keyring.
func TestE2EEncryptedHubKeyholders(t *testing.T) {
	hubs(t, func(t *testing.T, h *testHub) {
		ana, bo, cy := newKeyPerson(t, h), newKeyPerson(t, h), newKeyPerson(t, h)
		if r := ana.run(t, "hub", "init", h.url, "--encrypt"); r.code != 2 || !strings.Contains(r.stderr, "editkit key new") {
			t.Fatalf("hub init --encrypt without a key: %s", r)
		}
		anaKey, boKey := ana.newKey(t), bo.newKey(t)
		r := ana.run(t, "hub", "init", h.url, "--encrypt", "--label", "ana@cutting-room")
		if r.code != 0 || !strings.Contains(r.stdout, anaKey) {
			t.Fatalf("hub init --encrypt: %s", r)
		}
		var settings struct {
			Hub string `toml:"hub"`
		}
		if _, err := toml.DecodeFile(ana.settingsFile(), &settings); err != nil || settings.Hub != h.url {
			t.Fatalf("settings file after hub init: hub = %q, %v; want %q", settings.Hub, err, h.url)
		}
		if objs := h.objects(t, "keys"); len(objs) != 1 || objs[0] != "keys/00000000000000000001.age" {
			t.Fatalf("keyring objects: %v", objs)
		}
		assertNotInHub(t, h, anaKey, "ana@cutting-room")
		if r := ana.run(t, "hub", "init", h.url, "--encrypt"); r.code != 2 || !strings.Contains(r.stderr, "encrypted already") {
			t.Fatalf("hub init --encrypt twice: %s", r)
		}

		// Bo has a key, Cy none: exit 2 and one sentence each.
		r = bo.run(t, "hub", "keys", "list", "--hub", h.url)
		want := "editkit: the hub " + h.hubLocation() + " is encrypted for 1 person and your key " + boKey + " is not among them: ask a keyholder to run `editkit hub keys add " + boKey + "`\n"
		if r.code != 2 || r.stderr != want {
			t.Fatalf("keys list by someone without a key to the hub:\n%s\nwant stderr %q", r, want)
		}
		// Any command that opens the hub says the same.
		if r2 := bo.run(t, "snapshots", "--hub", h.url); r2.code != 2 || r2.stderr != want {
			t.Fatalf("snapshots by someone without a key to the hub:\n%s\nwant stderr %q", r2, want)
		}
		r = cy.run(t, "hub", "keys", "list", "--hub", h.url)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "you have no key: run `editkit key new` first") {
			t.Fatalf("keys list by someone with no key at all: %s", r)
		}

		// Ana (the hub is in her settings file) adds Bo.
		if r := ana.run(t, "hub", "keys", "add", boKey, "--label", "bo@home"); r.code != 0 || !strings.Contains(r.stdout, "Added "+boKey) {
			t.Fatalf("keys add: %s", r)
		}
		if r := ana.run(t, "hub", "keys", "add", boKey); r.code != 0 || !strings.Contains(r.stdout, "already") {
			t.Fatalf("keys add twice: %s", r)
		}
		var list struct {
			Keyholders []struct{ Key, Label string } `json:"keyholders"`
		}
		r = bo.run(t, "hub", "keys", "list", "--hub", h.url, "--json")
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Keyholders) != 2 ||
			list.Keyholders[0].Key != anaKey || list.Keyholders[0].Label != "ana@cutting-room" || list.Keyholders[1].Label != "bo@home" {
			t.Fatalf("keys list by Bo once added: %s", r)
		}

		// Ana removes Bo by label: the keyring rotates and Bo is out.
		r = ana.run(t, "hub", "keys", "remove", "bo@home")
		if r.code != 0 || !strings.Contains(r.stdout, "revoke their storage credentials") {
			t.Fatalf("keys remove: %s", r)
		}
		if r := bo.run(t, "hub", "keys", "list", "--hub", h.url); r.code != 2 || !strings.Contains(r.stderr, "is not among them") {
			t.Fatalf("keys list by Bo once removed: %s", r)
		}
		if r := ana.run(t, "hub", "keys", "remove", boKey); r.code != 2 || !strings.Contains(r.stderr, "not a keyholder") {
			t.Fatalf("removing Bo twice: %s", r)
		}
		if r := ana.run(t, "hub", "keys", "remove", anaKey); r.code == 0 || !strings.Contains(r.stderr, "only keyholder") {
			t.Fatalf("removing the last keyholder: %s", r)
		}
		if objs := h.objects(t, "keys"); len(objs) != 3 {
			t.Fatalf("keyring generations after add and remove: %v", objs)
		}
	})
}

// hubLocation is how editkit names the hub in messages.
func (h *testHub) hubLocation() string {
	if h.srv != nil {
		return h.url + "/ at " + h.srv.Endpoint
	}
	return h.dir
}

// assertNotInHub checks that no object of the hub holds any of the
// strings: the keyring keeps the team's keys and names to itself.
func assertNotInHub(t *testing.T, h *testHub, secrets ...string) {
	t.Helper()
	for _, obj := range h.objects(t, "") {
		data, err := os.ReadFile(filepath.Join(h.dir, filepath.FromSlash(obj)))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				t.Fatalf("hub object %s holds %q in the clear", obj, s)
			}
		}
	}
}

// The keyring is a standard age file: the age tool opens it with the
// keyholder's identity, and it holds the keyholders.
func TestE2EKeyringOpensWithAge(t *testing.T) {
	needTool(t, "age")
	p := newKeyPerson(t, nil)
	rcpt := p.newKey(t)
	hub := filepath.Join(t.TempDir(), "hub")
	if r := p.run(t, "hub", "init", hub, "--encrypt"); r.code != 0 {
		t.Fatalf("hub init: %s", r)
	}
	out, err := exec.Command("age", "-d", "-i", p.identityFile(), filepath.Join(hub, "keys", "00000000000000000001.age")).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	var env struct {
		Keyring struct {
			Recipients []struct{ Key string } `json:"recipients"`
			Current    uint32                 `json:"current_epoch"`
		} `json:"keyring"`
	}
	if err := json.Unmarshal(out, &env); err != nil || len(env.Keyring.Recipients) != 1 || env.Keyring.Recipients[0].Key != rcpt || env.Keyring.Current != 1 {
		t.Fatalf("the keyring age decrypts: %s (%v)", out, err)
	}
}

// Someone who only has an SSH key: made a keyholder from their .pub file,
// they open the hub with ~/.ssh/id_ed25519 and no editkit identity.
func TestE2ESSHKeyholder(t *testing.T) {
	ana, maria := newKeyPerson(t, nil), newKeyPerson(t, nil)
	ana.newKey(t)
	pub := writeSSHIdentity(t, maria.home)
	hub := filepath.Join(t.TempDir(), "hub")
	if r := ana.run(t, "hub", "init", hub, "--encrypt", "--recipient", pub); r.code != 0 || !strings.Contains(r.stdout, "maria@edit-bay") {
		t.Fatalf("hub init with an SSH recipient file: %s", r)
	}
	r := maria.run(t, "hub", "keys", "list", "--hub", hub)
	if r.code != 0 || !strings.Contains(r.stdout, "ssh-ed25519 ") || !strings.Contains(r.stdout, "(maria@edit-bay) (you)") {
		t.Fatalf("keys list with ~/.ssh/id_ed25519: %s", r)
	}
	// A private key given by mistake is refused and never echoed.
	for _, secret := range []string{strings.TrimSuffix(pub, ".pub"), ana.identityFile()} {
		data, _ := os.ReadFile(secret)
		r := ana.run(t, "hub", "keys", "add", secret, "--hub", hub)
		if r.code != 2 || !strings.Contains(r.stderr, "private key") {
			t.Fatalf("keys add %s (a private key): %s", secret, r)
		}
		for line := range strings.Lines(string(data)) {
			if line = strings.TrimSpace(line); !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "-----") && strings.Contains(r.stderr+r.stdout, line) {
				t.Fatalf("keys add %s printed the private key: %s", secret, r)
			}
		}
	}
}

// writeSSHIdentity writes an unencrypted ~/.ssh/id_ed25519 and its .pub
// under home; it returns the .pub's path.
func writeSSHIdentity(t *testing.T, home string) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "maria@edit-bay")
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk))) + " maria@edit-bay\n"
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519.pub"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "id_ed25519.pub")
}

func TestE2EHubInitFolder(t *testing.T) {
	p := newKeyPerson(t, nil)
	notHub := t.TempDir()
	os.WriteFile(filepath.Join(notHub, "notes.txt"), []byte("x"), 0o644)
	if r := p.run(t, "hub", "init", notHub); r.code != 2 || !strings.Contains(r.stderr, "notes.txt") {
		t.Fatalf("hub init on a folder of other files: %s", r)
	}
	if _, err := os.Stat(p.settingsFile()); err == nil {
		t.Fatal("a refused hub init wrote the settings file")
	}
	hub := filepath.Join(t.TempDir(), "new", "hub")
	if r := p.run(t, "hub", "init", hub); r.code != 0 {
		t.Fatalf("hub init: %s", r)
	}
	if fi, err := os.Stat(hub); err != nil || !fi.IsDir() {
		t.Fatalf("hub init did not make the folder: %v", err)
	}
	// The hub is in the settings file: snapshots needs no --hub.
	if r := p.run(t, "snapshots"); r.code != 0 || !strings.Contains(r.stdout, "No snapshots in "+hub) {
		t.Fatalf("snapshots after hub init: %s", r)
	}
	if r := p.run(t, "hub", "keys", "list"); r.code != 2 || !strings.Contains(r.stderr, "not encrypted") {
		t.Fatalf("keys list on a plain hub: %s", r)
	}
	// A settings file named with --config that does not exist yet is made.
	named := filepath.Join(t.TempDir(), "Show", "editkit.toml")
	if r := p.run(t, "--config", named, "hub", "init", hub); r.code != 0 {
		t.Fatalf("hub init --config NEW: %s", r)
	}
	if r := p.run(t, "--config", named, "snapshots"); r.code != 0 || !strings.Contains(r.stdout, "No snapshots in "+hub) {
		t.Fatalf("snapshots with the settings file hub init made: %s", r)
	}
}

// A newcomer trusts the keyring that added them on first use (they cannot
// check its link); then their computer holds them to it: a generation
// replaced by someone who can write to the hub is refused, by the keys
// commands and by every command that opens the hub.
func TestE2ENewcomerRefusesAReplacedKeyring(t *testing.T) {
	h := folderHub(t)
	ana, bo := newKeyPerson(t, h), newKeyPerson(t, h)
	ana.newKey(t)
	boKey := bo.newKey(t)
	if r := ana.run(t, "hub", "init", h.url, "--encrypt"); r.code != 0 {
		t.Fatalf("hub init --encrypt: %s", r)
	}
	if r := ana.run(t, "hub", "keys", "add", boKey); r.code != 0 {
		t.Fatalf("keys add: %s", r)
	}
	if r := bo.run(t, "snapshots", "--hub", h.url); r.code != 0 {
		t.Fatalf("Bo's first look at the hub: %s", r)
	}

	// A forger's generation 2, wrapped to Bo (his recipient is no secret).
	ctx := context.Background()
	forger, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bor, err := hubkey.ParseRecipient(boKey)
	if err != nil {
		t.Fatal(err)
	}
	other := newKeyPerson(t, nil)
	otherr, _ := hubkey.ParseRecipient(other.newKey(t))
	boIDs, err := hubkey.FindIdentities(bo.identityFile(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hubkey.Init(ctx, forger, []hubkey.Recipient{bor}); err != nil {
		t.Fatal(err)
	}
	if err := hubkey.Add(ctx, forger, boIDs.IDs, "", otherr); err != nil {
		t.Fatal(err)
	}
	const gen2 = "keys/00000000000000000002.age"
	forged, err := os.ReadFile(filepath.Join(forger.Location(), gen2))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, gen2), forged, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"hub", "keys", "list"}, {"snapshots"}} {
		r := bo.run(t, append(args, "--hub", h.url)...)
		if r.code == 0 || !strings.Contains(r.stderr, "generation 2 is not the one you accepted") || !strings.Contains(r.stderr, "tampered") {
			t.Fatalf("%v on a replaced keyring: %s", args, r)
		}
	}
}
