// Package hubcrypt owns the encryption of a hub's objects on the client:
// the object format (a header, then the plaintext sealed in 64 KiB chunks
// with AES-256-GCM or XChaCha20-Poly1305), the keyed object names (no path, set name or
// content hash of the show in any key) and Wrap, the backend.Backend
// between contenthub and the storage that does both for every object, so
// no caller of contenthub encrypts anything itself. The keys come from
// the hub's keyring (package hubkey unwraps it with a person's identity);
// this package never sees an identity.
package hubcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/editkit/editkit/internal/hubkey"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// Keys are a hub's secrets, unwrapped from its keyring by package hubkey.
type Keys = hubkey.Keys

// derived holds what Wrap computes once from Keys.
type derived struct {
	layout  Layout
	suite   byte // what new chunks are sealed with
	hubID   [16]byte
	current uint32
	epochs  map[uint32]*epochKeys
	// prp keys the four rounds of the permutation of 32-byte IDs (names.go).
	prp [4][32]byte
	// nameKey seals path-like name segments (backup set names).
	nameKey [32]byte
	nameSIV [32]byte
}

// epochKeys are the subkeys of one epoch's data key: one to seal, one to
// derive each chunk's nonce from its content (see object.go).
type epochKeys struct {
	seal   [32]byte
	cipher *epochCipher
}

func derive(k *Keys, l Layout) (*derived, error) {
	if k == nil {
		return nil, errors.New("hubcrypt: no keys")
	}
	if _, ok := k.Data[k.Current]; !ok {
		return nil, fmt.Errorf("hubcrypt: keyring has no data key for its current epoch %d", k.Current)
	}
	d := &derived{layout: l, suite: fastSuite(), hubID: k.HubID, current: k.Current, epochs: map[uint32]*epochKeys{}}
	for epoch, dk := range k.Data {
		ek := &epochKeys{cipher: &epochCipher{}}
		blake3.DeriveKey("editkit hub 2026 object seal v1", dk[:], ek.seal[:])
		blake3.DeriveKey("editkit hub 2026 object chunk nonce v1", dk[:], ek.cipher.siv[:])
		ek.cipher.sivHasher, _ = blake3.NewKeyed(ek.cipher.siv[:])
		x, err := chacha20poly1305.NewX(ek.seal[:])
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(ek.seal[:])
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		ek.cipher.suites[suiteXChaCha20Poly1305], ek.cipher.suites[suiteAES256GCM] = x, gcm
		var macKey [32]byte
		blake3.DeriveKey("editkit hub 2026 object chunk nonce gmac v1", dk[:], macKey[:])
		if block, err = aes.NewCipher(macKey[:]); err != nil {
			return nil, err
		}
		if ek.cipher.nonceMAC, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		d.epochs[epoch] = ek
	}
	for i := range d.prp {
		blake3.DeriveKey(fmt.Sprintf("editkit hub 2026 object id round %d v1", i), k.IDKey[:], d.prp[i][:])
	}
	blake3.DeriveKey("editkit hub 2026 name seal v1", k.IDKey[:], d.nameKey[:])
	blake3.DeriveKey("editkit hub 2026 name nonce v1", k.IDKey[:], d.nameSIV[:])
	return d, nil
}

// fastSuite is the suite this processor seals fastest.
func fastSuite() byte {
	if (cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ) || (cpu.ARM64.HasAES && cpu.ARM64.HasPMULL) {
		return suiteAES256GCM
	}
	return suiteXChaCha20Poly1305
}

// keyed is BLAKE3 keyed with key over the parts, each length-prefixed so
// that no two different part lists hash the same input.
func keyed(key *[32]byte, out []byte, parts ...[]byte) {
	h, _ := blake3.NewKeyed(key[:])
	keyedWith(h, out, parts...)
}

// keyedWith is keyed with a fresh hasher of that key (h, which it
// changes): a keyed hasher costs an allocation to make, a copy of one
// none.
func keyedWith(h *blake3.Hasher, out []byte, parts ...[]byte) {
	var n [8]byte
	for _, p := range parts {
		putUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	d := h.Digest()
	d.Read(out)
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}
