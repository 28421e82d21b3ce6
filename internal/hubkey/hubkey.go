// Package hubkey owns who can read an encrypted hub: people's age
// identities and the hub's keyring, the object under keys/ that holds the
// hub's secret keys (hub ID, ID key, data keys by epoch) wrapped with
// filippo.io/age to every current keyholder's recipient (an age X25519
// key or an SSH public key). The recipient list and its labels are inside
// the encrypted keyring: a reader of the bucket learns only how many
// keyholders there are.
//
// The keyring is never replaced: each change (a keyholder added or
// removed) writes the next generation, keys/GGGG….age, as a conditional
// create, so of two keyholders changing it at once one wins and the other
// re-reads and applies its change again; nothing is lost. The newest
// generation is the keyring. Each generation after the first carries a
// MAC under a secret of the one before it, so only a keyholder can add a
// generation: someone who can merely write to the bucket cannot slip in a
// keyring of their own (whose data key they would know).
//
// Removing a keyholder rotates: a new epoch with a new data key, wrapped
// only to those left. The ID key, which names objects, is never rotated,
// so deduplication survives a rotation.
package hubkey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/editkit/editkit/internal/contenthub/backend"
)

// Keys are what a keyholder unwraps from the hub's keyring.
type Keys struct {
	// HubID is random per hub; bound into every object's authentication
	// (an object from another hub is refused).
	HubID [16]byte
	// IDKey keys blob IDs and object names; never rotated, so dedup
	// survives rotation.
	IDKey [32]byte
	// Current is the epoch new objects are written with.
	Current uint32
	// Data holds the data keys by epoch: every epoch this keyholder may read.
	Data map[uint32][32]byte
}

// CurrentKey is the data key new objects are written with.
func (k *Keys) CurrentKey() [32]byte { return k.Data[k.Current] }

var (
	// ErrNotEncrypted: the hub has no keyring (it holds plain objects).
	ErrNotEncrypted = errors.New("the hub is not encrypted")
	// ErrNoKey is what a *NoKeyError unwraps to: none of the caller's
	// identities opens the hub's keyring. Commands exit 2 on it.
	ErrNoKey = errors.New("no key for this hub")
	// ErrKeyringExists: Init found a keyring already there.
	ErrKeyringExists = errors.New("the hub already has a keyring")
	// ErrAlreadyKeyholder: Add was given a recipient the keyring holds.
	ErrAlreadyKeyholder = errors.New("already a keyholder")
	// ErrNotKeyholder: Remove was given a recipient the keyring does not hold.
	ErrNotKeyholder = errors.New("not a keyholder")
)

// NoKeyError says that none of the caller's identities opens the hub's
// keyring, in one sentence that names the way in.
type NoKeyError struct {
	Hub string // the hub's location, for the message
	// Holders is how many keyholders the keyring is wrapped to (the age
	// header shows the count, not who).
	Holders int
	// Yours are the caller's recipients (empty: the caller has no identity).
	Yours []Recipient
	// Locked, if set, is a passphrase-protected SSH key file that the
	// keyring is wrapped to (editkit does not ask for passphrases).
	Locked string
}

func (e *NoKeyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the hub %s is encrypted for %d %s", e.Hub, e.Holders, plural(e.Holders, "person", "people"))
	if e.Locked != "" {
		fmt.Fprintf(&b, " and your SSH key %s is among them but protected by a passphrase, which editkit does not ask for: run `editkit key new`, then ask a keyholder to run `editkit hub keys add <the recipient it prints>`", e.Locked)
		return b.String()
	}
	switch len(e.Yours) {
	case 0:
		b.WriteString(" and you have no key: run `editkit key new` first, then ask a keyholder to run `editkit hub keys add <the recipient it prints>`")
	case 1:
		fmt.Fprintf(&b, " and your key %s is not among them: ask a keyholder to run `editkit hub keys add %s`", e.Yours[0].Key, quoteArg(e.Yours[0].Key))
	default:
		keys := make([]string, len(e.Yours))
		for i, r := range e.Yours {
			keys[i] = r.Key
		}
		fmt.Fprintf(&b, " and none of your keys (%s) is among them: ask a keyholder to run `editkit hub keys add %s`", strings.Join(keys, ", "), quoteArg(e.Yours[0].Key))
	}
	return b.String()
}

func (e *NoKeyError) Unwrap() error { return ErrNoKey }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// quoteArg quotes an SSH key line ("ssh-ed25519 AAAA…") for a shell.
func quoteArg(s string) string {
	if strings.ContainsAny(s, " \t") {
		return "'" + s + "'"
	}
	return s
}

// Init creates the hub's keyring, wrapped to recipients: a new hub ID, ID
// key and epoch 1's data key. It fails with ErrKeyringExists if the hub
// has one.
func Init(ctx context.Context, b backend.Backend, recipients []Recipient) (*Keys, error) {
	if len(recipients) == 0 {
		return nil, errors.New("a keyring needs at least one recipient")
	}
	gens, err := listGenerations(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(gens) > 0 {
		return nil, fmt.Errorf("%s: %w (%s)", b.Location(), ErrKeyringExists, generationKey(gens[len(gens)-1]))
	}
	r := &ring{Generation: 1, Current: 1, Data: map[uint32][]byte{1: randomBytes(32)},
		HubID: randomBytes(16), IDKey: randomBytes(32), Recipients: dedupe(recipients)}
	if err := writeGeneration(ctx, b, r, nil); err != nil {
		if errors.Is(err, backend.ErrExists) {
			return nil, fmt.Errorf("%s: %w (another keyholder created it just now)", b.Location(), ErrKeyringExists)
		}
		return nil, err
	}
	return r.keys(), nil
}

// Load opens the hub's keyring with the first of ids that can. It returns
// ErrNotEncrypted if the hub has none and a *NoKeyError if none of ids
// opens it. trustDir (the person's state folder; "" for none) remembers
// the generation accepted, so that a rollback or a replaced generation is
// refused later even for someone who could not check its link (trust.go);
// List, Add and Remove take it too.
func Load(ctx context.Context, b backend.Backend, ids []age.Identity, trustDir string) (*Keys, error) {
	r, err := loadRing(ctx, b, ids, trustDir)
	if err != nil {
		return nil, err
	}
	return r.keys(), nil
}

// List returns the keyholders' recipients.
func List(ctx context.Context, b backend.Backend, ids []age.Identity, trustDir string) ([]Recipient, error) {
	r, err := loadRing(ctx, b, ids, trustDir)
	if err != nil {
		return nil, err
	}
	return slices.Clone(r.Recipients), nil
}

// Add makes r a keyholder: it can read every epoch from then on. It
// returns ErrAlreadyKeyholder if r is one.
func Add(ctx context.Context, b backend.Backend, ids []age.Identity, trustDir string, r Recipient) error {
	if _, err := r.ageRecipient(); err != nil {
		return err
	}
	_, err := change(ctx, b, ids, trustDir, func(next *ring) error {
		if next.find(r.Key) >= 0 {
			return fmt.Errorf("%s: %w", r, ErrAlreadyKeyholder)
		}
		next.Recipients = append(next.Recipients, r)
		return nil
	})
	return err
}

// Remove takes a keyholder out, named by its recipient or its label, and
// rotates: a new epoch and data key, wrapped only to those left, so what
// is written afterwards cannot be read with the removed identity. It
// returns the new keys.
func Remove(ctx context.Context, b backend.Backend, ids []age.Identity, trustDir string, who string) (*Keys, error) {
	r, err := change(ctx, b, ids, trustDir, func(next *ring) error {
		i, err := next.match(who)
		if err != nil {
			return err
		}
		if len(next.Recipients) == 1 {
			return fmt.Errorf("%s is the only keyholder: add another first (nobody could read the hub)", next.Recipients[i])
		}
		next.Recipients = slices.Delete(next.Recipients, i, i+1)
		epoch := next.Current + 1
		for e := range next.Data {
			epoch = max(epoch, e+1)
		}
		next.Current = epoch
		next.Data[epoch] = randomBytes(32)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.keys(), nil
}

// change applies edit to the newest keyring and writes it as the next
// generation; if another keyholder wrote that generation first it reads
// theirs and applies edit again.
func change(ctx context.Context, b backend.Backend, ids []age.Identity, trustDir string, edit func(*ring) error) (*ring, error) {
	const attempts = 8
	for range attempts {
		cur, err := loadRing(ctx, b, ids, trustDir)
		if err != nil {
			return nil, err
		}
		next := cur.clone()
		next.Generation++
		if err := edit(next); err != nil {
			return nil, err
		}
		err = writeGeneration(ctx, b, next, cur.ChainKey)
		if errors.Is(err, backend.ErrExists) {
			continue // another keyholder changed it meanwhile
		}
		if err != nil {
			return nil, err
		}
		return next, nil
	}
	return nil, fmt.Errorf("%s: the keyring changed %d times while this change was being written; run the command again", b.Location(), attempts)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
