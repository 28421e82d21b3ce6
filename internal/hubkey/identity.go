package hubkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// Recipient is a keyholder's public key and a label for people.
type Recipient struct {
	// Key is an age X25519 recipient (age1…) or an SSH public key
	// ("ssh-ed25519 AAAA…" or "ssh-rsa AAAA…", without its comment).
	Key string `json:"key"`
	// Label names the person ("maria@laptop", an SSH key's comment).
	Label string `json:"label,omitempty"`
}

func (r Recipient) String() string {
	if r.Label == "" {
		return r.Key
	}
	return r.Key + " (" + r.Label + ")"
}

// ParseRecipient reads an age recipient (age1…) or an SSH public key line
// ("ssh-ed25519 AAAA… comment", as in id_ed25519.pub); an SSH key's
// comment becomes the label.
func ParseRecipient(s string) (Recipient, error) {
	s = strings.TrimSpace(s)
	if isSecret(s) {
		return Recipient{}, ErrPrivateKey // never echoed

	}
	switch {
	case strings.HasPrefix(s, "age1"):
		if _, err := age.ParseX25519Recipient(s); err != nil {
			return Recipient{}, fmt.Errorf("recipient %q: %w (want an age X25519 recipient, age1…, as `editkit key show` prints, or an SSH public key line)", s, err)
		}
		return Recipient{Key: s}, nil
	case strings.HasPrefix(s, "ssh-"):
		pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
		if err != nil {
			return Recipient{}, fmt.Errorf("SSH recipient %q: %w", s, err)
		}
		if t := pk.Type(); t != ssh.KeyAlgoED25519 && t != ssh.KeyAlgoRSA {
			return Recipient{}, fmt.Errorf("SSH recipient of type %s: only ssh-ed25519 and ssh-rsa keys can be recipients", t)
		}
		r := Recipient{Key: sshKeyLine(pk), Label: cleanLabel(comment)}
		if _, err := r.ageRecipient(); err != nil {
			return Recipient{}, err
		}
		return r, nil
	}
	return Recipient{}, fmt.Errorf("recipient %q: want an age recipient (age1…, as `editkit key show` prints) or an SSH public key line (ssh-ed25519 AAAA… or ssh-rsa AAAA…)", s)
}

// ErrPrivateKey: ParseRecipient was given a private key.
var ErrPrivateKey = errors.New("that is a private key, not a recipient: give its public recipient (what `editkit key show` prints, or the SSH key's .pub)")

// isSecret reports whether s looks like a private key (an age identity or
// a PEM/OpenSSH private key).
func isSecret(s string) bool {
	return strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") || strings.Contains(s, "PRIVATE KEY")
}

// sshKeyLine is an SSH public key as "TYPE BASE64", no comment.
func sshKeyLine(pk ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

// cleanLabel keeps a label printable on one line.
func cleanLabel(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// WithLabel returns r labelled label (cleaned); an empty label keeps r's.
func (r Recipient) WithLabel(label string) Recipient {
	if l := cleanLabel(label); l != "" {
		r.Label = l
	}
	return r
}

func (r Recipient) ageRecipient() (age.Recipient, error) {
	if strings.HasPrefix(r.Key, "ssh-") {
		a, err := agessh.ParseRecipient(r.Key)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", r.Key, err)
		}
		return a, nil
	}
	a, err := age.ParseX25519Recipient(r.Key)
	if err != nil {
		return nil, fmt.Errorf("recipient %q: %w", r.Key, err)
	}
	return a, nil
}

// IdentityFileName is the name of a person's identity in the settings
// folder.
const IdentityFileName = "identity.txt"

// NewIdentityFile generates an age X25519 identity and writes it to path,
// mode 0600, making its folder (0700) if needed. It never replaces a file
// (an existing identity may be the only key to a hub), and path never
// holds a partial identity: it is written aside, synced, then linked into
// place.
func NewIdentityFile(path string, now time.Time) (Recipient, error) {
	if _, err := os.Lstat(path); err == nil {
		return Recipient{}, fmt.Errorf("%s exists: editkit never replaces an identity (it may be the only key to a hub); `editkit key show` prints its recipient", path)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return Recipient{}, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Recipient{}, fmt.Errorf("identity folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // 0600
	if err != nil {
		return Recipient{}, fmt.Errorf("identity %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	rcpt := id.Recipient().String()
	_, err = fmt.Fprintf(f, "# editkit identity, created %s\n# public key: %s\n%s\n", now.UTC().Format(time.RFC3339), rcpt, id)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path) // fails if path exists, a link included
	}
	if errors.Is(err, fs.ErrExist) {
		return Recipient{}, fmt.Errorf("%s exists: editkit never replaces an identity (it may be the only key to a hub); `editkit key show` prints its recipient", path)
	}
	if err != nil {
		return Recipient{}, fmt.Errorf("identity %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return Recipient{Key: rcpt}, nil
}

// Identities are the private keys a command may open a keyring with.
type Identities struct {
	IDs []age.Identity
	// Recipients are the IDs' public keys, in the same order.
	Recipients []Recipient
	// Files are where each came from, in the same order.
	Files []string
}

// identity is an age identity with its recipient, so that a keyring it
// does not open can say which key it was.
type identity struct {
	age.Identity
	rcpt   Recipient
	file   string
	locked bool // a passphrase-protected SSH key
}

// Unwrap is the identity's, except that a locked key the keyring is
// wrapped to says so (age only reports it as a failed passphrase prompt).
func (id identity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	key, err := id.Identity.Unwrap(stanzas)
	if err != nil && id.locked && !errors.Is(err, age.ErrIncorrectIdentity) {
		return nil, errLocked{file: id.file}
	}
	return key, err
}

// errLocked: a passphrase-protected SSH key matched the keyring; editkit
// does not ask for passphrases.
type errLocked struct{ file string }

func (e errLocked) Error() string {
	return fmt.Sprintf("%s is protected by a passphrase, which editkit does not ask for", e.file)
}

// ReadIdentityFile reads an age identity file (as `editkit key new` or
// age-keygen write) or an unencrypted OpenSSH/PEM private key (ed25519 or
// RSA). A passphrase-protected SSH key is accepted but, should the
// keyring be wrapped to it, opening it fails with a clear message.
func ReadIdentityFile(path string) (*Identities, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	ids := &Identities{}
	if strings.Contains(string(data), "-----BEGIN") {
		id, err := parseSSHIdentity(path, data)
		if err != nil {
			return nil, err
		}
		ids.add(id)
		return ids, nil
	}
	parsed, err := age.ParseIdentities(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w (want an identity from `editkit key new` or age-keygen, or an SSH private key)", path, err)
	}
	for _, p := range parsed {
		x, ok := p.(*age.X25519Identity)
		if !ok {
			return nil, fmt.Errorf("identity %s: only X25519 identities (AGE-SECRET-KEY-1…) are supported", path)
		}
		ids.add(identity{Identity: x, rcpt: Recipient{Key: x.Recipient().String()}, file: path})
	}
	return ids, nil
}

func (ids *Identities) add(id identity) {
	ids.IDs = append(ids.IDs, id)
	ids.Recipients = append(ids.Recipients, id.rcpt)
	ids.Files = append(ids.Files, id.file)
}

func (ids *Identities) merge(o *Identities) {
	for i, id := range o.IDs {
		ids.IDs = append(ids.IDs, id)
		ids.Recipients = append(ids.Recipients, o.Recipients[i])
		ids.Files = append(ids.Files, o.Files[i])
	}
}

func parseSSHIdentity(path string, pem []byte) (identity, error) {
	key, err := ssh.ParseRawPrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		pub := missing.PublicKey
		if pub == nil {
			if line, rerr := os.ReadFile(path + ".pub"); rerr == nil {
				pub, _, _, _, _ = ssh.ParseAuthorizedKey(line)
			}
		}
		if pub == nil {
			return identity{}, fmt.Errorf("identity %s is protected by a passphrase, which editkit does not ask for, and has no %s.pub beside it: use an identity from `editkit key new`", path, path)
		}
		id := identity{rcpt: Recipient{Key: sshKeyLine(pub)}, file: path, locked: true}
		enc, err := agessh.NewEncryptedSSHIdentity(pub, pem, func() ([]byte, error) { return nil, errLocked{file: path} })
		if err != nil {
			return identity{}, fmt.Errorf("identity %s: %w", path, err)
		}
		id.Identity = enc
		return id, nil
	}
	if err != nil {
		return identity{}, fmt.Errorf("identity %s: %w", path, err)
	}
	var aid age.Identity
	var pub crypto.PublicKey
	switch k := key.(type) {
	case *ed25519.PrivateKey:
		aid, err = agessh.NewEd25519Identity(*k)
		pub = k.Public()
	case ed25519.PrivateKey:
		aid, err = agessh.NewEd25519Identity(k)
		pub = k.Public()
	case *rsa.PrivateKey:
		aid, err = agessh.NewRSAIdentity(k)
		pub = k.Public()
	default:
		return identity{}, fmt.Errorf("identity %s: an SSH key of type %T; only ed25519 and RSA keys are supported", path, key)
	}
	if err != nil {
		return identity{}, fmt.Errorf("identity %s: %w", path, err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		return identity{}, fmt.Errorf("identity %s: %w", path, err)
	}
	return identity{Identity: aid, rcpt: Recipient{Key: sshKeyLine(spk)}, file: path}, nil
}

// FindIdentities gathers the identities a command uses: the file named
// (--identity, $EDITKIT_IDENTITY or identity in the settings file), which
// must exist, else the default file if it exists; plus home's
// .ssh/id_ed25519 and .ssh/id_rsa when present.
func FindIdentities(named, defaultFile, home string) (*Identities, error) {
	ids := &Identities{}
	primary, required := named, true
	if primary == "" {
		primary, required = defaultFile, false
	}
	if primary != "" {
		switch one, err := ReadIdentityFile(primary); {
		case err == nil:
			ids.merge(one)
		case required || !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	if home == "" {
		return ids, nil
	}
	for _, name := range []string{"id_ed25519", "id_rsa"} {
		p := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		one, err := ReadIdentityFile(p)
		if err != nil {
			continue // an SSH key editkit cannot use is not a reason to stop
		}
		ids.merge(one)
	}
	return ids, nil
}

// dedupe drops repeated recipients (the same key given twice), keeping
// the first, and a later label where the first had none.
func dedupe(rs []Recipient) []Recipient {
	var out []Recipient
	for _, r := range rs {
		i := slices.IndexFunc(out, func(x Recipient) bool { return x.Key == r.Key })
		switch {
		case i < 0:
			out = append(out, r)
		case out[i].Label == "":
			out[i].Label = r.Label
		}
	}
	return out
}
