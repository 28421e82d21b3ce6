package hubkey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/editkit/editkit/internal/contenthub/backend"
)

// Prefix is where the keyring lives in the hub; it is the one prefix an
// encrypted hub keeps unencrypted by the hub's own keys (the keyring is
// encrypted with age to its keyholders instead).
const Prefix = "keys/"

const (
	ringVersion = 1
	// maxRingSize bounds what is read of a keyring object: a keyring of
	// hundreds of keyholders is a few tens of KiB.
	maxRingSize = 4 << 20
	linkContext = "editkit keyring link v1\x00"
)

// ring is a keyring generation's content, as stored (inside age).
type ring struct {
	Version    int               `json:"version"`
	Generation uint64            `json:"generation"`
	HubID      []byte            `json:"hub_id"`
	IDKey      []byte            `json:"id_key"`
	Current    uint32            `json:"current_epoch"`
	Data       map[uint32][]byte `json:"data_keys"`
	Recipients []Recipient       `json:"recipients"`
	// ChainKey is fresh in every generation; the next generation carries
	// a MAC under it (only a keyholder can write one).
	ChainKey []byte `json:"chain_key"`
}

// envelope is the age-encrypted plaintext of a keyring object: the ring's
// exact bytes and their MAC under the previous generation's chain key.
type envelope struct {
	Keyring json.RawMessage `json:"keyring"`
	Link    []byte          `json:"link,omitempty"`
}

func generationKey(gen uint64) string { return fmt.Sprintf("%s%020d.age", Prefix, gen) }

// listGenerations returns the keyring generations in the hub, oldest
// first. Other objects under keys/ are not the keyring's and are ignored.
func listGenerations(ctx context.Context, b backend.Backend) ([]uint64, error) {
	var gens []uint64
	for oi, err := range b.List(ctx, Prefix) {
		if err != nil {
			return nil, fmt.Errorf("listing the keyring %s%s: %w", b.Location(), Prefix, err)
		}
		num, ok := strings.CutSuffix(strings.TrimPrefix(oi.Key, Prefix), ".age")
		if !ok || len(num) != 20 {
			continue
		}
		if gen, err := strconv.ParseUint(num, 10, 64); err == nil && gen > 0 {
			gens = append(gens, gen)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

func (r *ring) keys() *Keys {
	k := &Keys{Current: r.Current, Data: make(map[uint32][32]byte, len(r.Data))}
	copy(k.HubID[:], r.HubID)
	copy(k.IDKey[:], r.IDKey)
	for e, d := range r.Data {
		k.Data[e] = [32]byte(d)
	}
	return k
}

// clone copies r for the next generation, without its chain key.
func (r *ring) clone() *ring {
	c := *r
	c.Data = maps.Clone(r.Data)
	c.Recipients = slices.Clone(r.Recipients)
	c.ChainKey = nil
	return &c
}

// find returns the index of the recipient whose key is key, or -1.
func (r *ring) find(key string) int {
	return slices.IndexFunc(r.Recipients, func(x Recipient) bool { return x.Key == key })
}

// match finds a keyholder by recipient (as given to Add, an SSH line's
// comment aside) or by label, which must then be unique.
func (r *ring) match(who string) (int, error) {
	who = strings.TrimSpace(who)
	if p, err := ParseRecipient(who); err == nil {
		if i := r.find(p.Key); i >= 0 {
			return i, nil
		}
		return -1, fmt.Errorf("%s: %w", p.Key, ErrNotKeyholder)
	}
	var found []int
	for i, x := range r.Recipients {
		if x.Label == who {
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return -1, fmt.Errorf("%q: %w (see `editkit hub keys list`)", who, ErrNotKeyholder)
	case 1:
		return found[0], nil
	}
	return -1, fmt.Errorf("%d keyholders are labelled %q: name the one to remove by its recipient (see `editkit hub keys list`)", len(found), who)
}

// check validates a decoded ring read from the object key.
func (r *ring) check(key string, gen uint64) error {
	var problem string
	switch {
	case r.Version != ringVersion:
		problem = fmt.Sprintf("version %d (this editkit reads %d; a newer editkit may have written it)", r.Version, ringVersion)
	case r.Generation != gen:
		problem = fmt.Sprintf("it says it is generation %d", r.Generation)
	case len(r.HubID) != 16 || len(r.IDKey) != 32 || len(r.ChainKey) != 32:
		problem = "a key of the wrong size"
	case len(r.Data[r.Current]) != 32:
		problem = fmt.Sprintf("no data key for its current epoch %d", r.Current)
	case len(r.Recipients) == 0:
		problem = "no keyholders"
	}
	for e, d := range r.Data {
		if problem == "" && len(d) != 32 {
			problem = fmt.Sprintf("epoch %d's data key has the wrong size", e)
		}
	}
	for _, x := range r.Recipients {
		if _, err := x.ageRecipient(); problem == "" && err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		return fmt.Errorf("keyring %s is damaged: %s", key, problem)
	}
	return nil
}

func link(chainKey, raw []byte) []byte {
	m := hmac.New(sha256.New, chainKey)
	m.Write([]byte(linkContext))
	m.Write(raw)
	return m.Sum(nil)
}

// writeGeneration encrypts r to its recipients and creates its
// generation's object; ErrExists if another keyholder wrote it first.
// prevChainKey (nil for the first generation) links it to the one before.
func writeGeneration(ctx context.Context, b backend.Backend, r *ring, prevChainKey []byte) error {
	r.Version = ringVersion
	r.ChainKey = randomBytes(32)
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	env := envelope{Keyring: raw}
	if prevChainKey != nil {
		env.Link = link(prevChainKey, raw)
	}
	plain, err := json.Marshal(env)
	if err != nil {
		return err
	}
	rcpts := make([]age.Recipient, len(r.Recipients))
	for i, x := range r.Recipients {
		if rcpts[i], err = x.ageRecipient(); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcpts...)
	if err != nil {
		return fmt.Errorf("encrypting the keyring: %w", err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		return fmt.Errorf("encrypting the keyring: %w", err)
	}
	key := generationKey(r.Generation)
	err = b.Put(ctx, key, backend.BytesSource(buf.Bytes()), backend.PutOptions{IfNotExists: true})
	if err != nil && !errors.Is(err, backend.ErrExists) {
		return fmt.Errorf("writing the keyring %s%s: %w", b.Location(), key, err)
	}
	return err
}

// errNotYours: the caller's identities do not open this generation
// (locked: one would, but it is passphrase-protected).
type errNotYours struct {
	holders int
	locked  string
}

func (errNotYours) Error() string { return "not wrapped to any of your keys" }

// generation is one keyring generation as read.
type generation struct {
	num    uint64
	r      *ring
	raw    []byte // the ring's exact bytes, which link covers
	link   []byte // MAC under the previous generation's chain key
	digest string // of the stored object
}

// readGeneration reads and decrypts generation gen. An identity that does
// not open it gives errNotYours.
func readGeneration(ctx context.Context, b backend.Backend, gen uint64, ids []age.Identity) (*generation, error) {
	key := generationKey(gen)
	rc, err := b.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("reading the keyring %s%s: %w", b.Location(), key, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxRingSize+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the keyring %s%s: %w", b.Location(), key, err)
	}
	if len(data) > maxRingSize {
		return nil, fmt.Errorf("keyring %s is damaged: larger than %d bytes", key, maxRingSize)
	}
	r, raw, lnk, err := openGeneration(data, key, gen, ids)
	if err != nil {
		return nil, err
	}
	return &generation{num: gen, r: r, raw: raw, link: lnk, digest: objectDigest(data)}, nil
}

// openGeneration decrypts and parses a keyring object's bytes.
func openGeneration(data []byte, key string, gen uint64, ids []age.Identity) (*ring, []byte, []byte, error) {
	if len(ids) == 0 {
		return nil, nil, nil, errNotYours{holders: countStanzas(data)}
	}
	pr, err := age.Decrypt(bytes.NewReader(data), ids...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, nil, nil, errNotYours{holders: len(nomatch.StanzaTypes)}
	}
	var locked errLocked
	if errors.As(err, &locked) {
		return nil, nil, nil, errNotYours{holders: countStanzas(data), locked: locked.file}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("keyring %s: %w", key, err)
	}
	plain, err := io.ReadAll(pr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("keyring %s is damaged: %w", key, err)
	}
	r, raw, lnk, err := parseEnvelope(plain, key, gen)
	return r, raw, lnk, err
}

// parseEnvelope parses a keyring object's decrypted plaintext.
func parseEnvelope(plain []byte, key string, gen uint64) (*ring, []byte, []byte, error) {
	var env envelope
	if err := json.Unmarshal(plain, &env); err != nil {
		return nil, nil, nil, fmt.Errorf("keyring %s is damaged: %w", key, err)
	}
	var r ring
	if err := json.Unmarshal(env.Keyring, &r); err != nil {
		return nil, nil, nil, fmt.Errorf("keyring %s is damaged: %w", key, err)
	}
	if err := r.check(key, gen); err != nil {
		return nil, nil, nil, err
	}
	return &r, env.Keyring, env.Link, nil
}

// countStanzas counts the recipients in an age header without opening it.
func countStanzas(data []byte) int {
	hdr, err := age.ExtractHeader(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	return bytes.Count(hdr, []byte("\n-> "))
}

// loadRing reads the newest keyring generation and checks it is linked
// to the one before it (when the caller can read that one too: someone
// added in the newest generation cannot, and takes it on trust). With a
// trustDir, the generation accepted is remembered there, and a later
// keyring that does not follow from it is refused (trust.go).
func loadRing(ctx context.Context, b backend.Backend, ids []age.Identity, trustDir string) (*ring, error) {
	// What was accepted is read before the generations are listed, so
	// that another run of the same person accepting a newer one meanwhile
	// does not look like a rollback.
	loc := b.Location()
	was, pinned, err := readAccepted(trustDir, loc, ids)
	if err != nil {
		return nil, err
	}
	gens, err := listGenerations(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(gens) == 0 {
		return nil, ErrNotEncrypted
	}
	top := gens[len(gens)-1]
	if pinned && top < was.Generation {
		return nil, distrustError(trustDir, loc, ids, fmt.Sprintf("went back to generation %d from generation %d, which you accepted before", top, was.Generation))
	}
	g, err := readGeneration(ctx, b, top, ids)
	var ny errNotYours
	if errors.As(err, &ny) {
		return nil, &NoKeyError{Hub: loc, Holders: ny.holders, Yours: recipientsOf(ids), Locked: ny.locked}
	}
	if err != nil {
		return nil, err
	}
	if pinned {
		err = followsAccepted(ctx, b, ids, g, was, trustDir)
	} else {
		err = linkedToPrevious(ctx, b, ids, g)
	}
	if err != nil {
		return nil, err
	}
	if !pinned || was.Generation != top {
		if err := remember(trustDir, loc, ids, top, g.digest); err != nil {
			return nil, err
		}
	}
	return g.r, nil
}

// linkedToPrevious checks that g is linked to the generation before it,
// when the caller can read that one.
func linkedToPrevious(ctx context.Context, b backend.Backend, ids []age.Identity, g *generation) error {
	if g.num == 1 {
		return nil
	}
	prev, err := readGeneration(ctx, b, g.num-1, ids)
	var ny errNotYours
	switch {
	case errors.As(err, &ny):
		return nil // a newcomer: trusted on first use
	case errors.Is(err, backend.ErrNotFound):
		return fmt.Errorf("keyring %s cannot be trusted: the generation before it, %s, is missing (a keyholder never deletes one; someone with write access to the hub may have tampered with it)", generationKey(g.num), generationKey(g.num-1))
	case err != nil:
		return err
	}
	return checkLink(prev, g)
}

// checkLink checks that g was written by a keyholder of prev.
func checkLink(prev, g *generation) error {
	if g.link == nil || !hmac.Equal(g.link, link(prev.r.ChainKey, g.raw)) || !bytes.Equal(prev.r.HubID, g.r.HubID) || !bytes.Equal(prev.r.IDKey, g.r.IDKey) {
		return fmt.Errorf("keyring %s was not written by a keyholder of %s (its link to the generation before does not check out): someone with write access to the hub may have tampered with it; do not write to the hub until a keyholder has looked", generationKey(g.num), generationKey(prev.num))
	}
	return nil
}

// followsAccepted checks that top is the generation accepted before, or
// follows from it link by link.
func followsAccepted(ctx context.Context, b backend.Backend, ids []age.Identity, top *generation, was accepted, trustDir string) error {
	loc := b.Location()
	replaced := distrustError(trustDir, loc, ids, fmt.Sprintf("generation %d is not the one you accepted before (its content was replaced)", was.Generation))
	if top.num == was.Generation {
		if top.digest != was.Digest {
			return replaced
		}
		return nil
	}
	prev, err := readGeneration(ctx, b, was.Generation, ids)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return distrustError(trustDir, loc, ids, fmt.Sprintf("generation %d, which you accepted before, is missing", was.Generation))
	case errors.As(err, new(errNotYours)):
		return replaced
	case err != nil:
		return err
	case prev.digest != was.Digest:
		return replaced
	}
	for n := was.Generation + 1; n <= top.num; n++ {
		g := top
		if n < top.num {
			if g, err = readGeneration(ctx, b, n, ids); err != nil {
				if errors.As(err, new(errNotYours)) || errors.Is(err, backend.ErrNotFound) {
					return distrustError(trustDir, loc, ids, fmt.Sprintf("generation %d does not follow from generation %d, which you accepted before (you cannot read generation %d)", top.num, was.Generation, n))
				}
				return err
			}
		}
		if err := checkLink(prev, g); err != nil {
			return err
		}
		prev = g
	}
	return nil
}

// recipientsOf returns the recipients of the identities FindIdentities
// made (others cannot say).
func recipientsOf(ids []age.Identity) []Recipient {
	var rs []Recipient
	for _, id := range ids {
		switch x := id.(type) {
		case identity:
			rs = append(rs, x.rcpt)
		case *age.X25519Identity:
			rs = append(rs, Recipient{Key: x.Recipient().String()})
		}
	}
	return rs
}
