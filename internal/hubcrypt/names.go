package hubcrypt

import (
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/chacha20"
)

// Object names. What a key says in a plain hub, and what it becomes here
// (the prefixes are contenthub's, given to Wrap as a Layout):
//
//	<sharded>ab/<BLAKE3 hex>     <sharded><2>/<permuted ID, base32>   (blobs, packs)
//	<flat><BLAKE3 hex><suffix>   <flat><permuted ID, base32><suffix>  (the pack index)
//	<named>SET/REST              <named><sealed SET>/REST             (snapshots)
//	keys/…                       unchanged, and the only prefix whose bodies are not sealed
//	anything else                unchanged: event, checkpoint, prune and lease keys hold a time or a random ID, no content
//
// A blob's stored ID is a keyed permutation of its plain BLAKE3 (a 4-round
// Feistel network whose rounds are BLAKE3 keyed with subkeys of IDKey: a
// pseudorandom permutation, Luby–Rackoff). Like a keyed hash it is computed
// from the catalog's or a snapshot's plain hash without the content,
// reveals nothing without the key and is the same for everyone on the
// team, so dedup keeps working; unlike a keyed hash it can be turned back,
// so listing the hub (prune, hub check) still names each blob by its plain
// hash. The base32 form (52 characters) never looks like a plain key (64
// hex digits), which is how a half-encrypted hub tells its objects apart.

// Layout names the kinds of key whose names Wrap changes.
type Layout struct {
	Sharded []string          // prefixes of keys PREFIX<first 2 hex digits>/<64 hex digits>
	Flat    map[string]string // prefix → suffix of keys PREFIX<64 hex digits>SUFFIX
	Named   []string          // prefixes of keys PREFIX<name>/…, the name sealed
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// kindOf returns the renamed kind key belongs to: its prefix, and how it
// is named ("sharded", "flat" or "named"); "" for a key kept as it is.
func (l *Layout) kindOf(key string) (prefix, how string) {
	for _, p := range l.Sharded {
		if strings.HasPrefix(key, p) {
			return p, "sharded"
		}
	}
	for p := range l.Flat {
		if strings.HasPrefix(key, p) {
			return p, "flat"
		}
	}
	for _, p := range l.Named {
		if strings.HasPrefix(key, p) {
			return p, "named"
		}
	}
	return "", ""
}

func (d *derived) feistel(id [32]byte, inverse bool) [32]byte {
	l, r := id[:16:16], id[16:]
	var f [16]byte
	var nl, nr [16]byte
	copy(nl[:], l)
	copy(nr[:], r)
	for i := range 4 {
		round := i
		if inverse {
			round = 3 - i
		}
		if !inverse {
			keyed(&d.prp[round], f[:], nr[:])
			for j := range f {
				nl[j] ^= f[j]
			}
			nl, nr = nr, nl
		} else {
			keyed(&d.prp[round], f[:], nl[:])
			for j := range f {
				nr[j] ^= f[j]
			}
			nl, nr = nr, nl
		}
	}
	var out [32]byte
	copy(out[:16], nl[:])
	copy(out[16:], nr[:])
	return out
}

// storedID maps a plain 64-hex hash to its stored name; ok is false for
// anything else.
func (d *derived) storedID(plainHex string) (string, bool) {
	var id [32]byte
	if len(plainHex) != 64 || strings.ToLower(plainHex) != plainHex {
		return "", false
	}
	if _, err := hex.Decode(id[:], []byte(plainHex)); err != nil {
		return "", false
	}
	p := d.feistel(id, false)
	return b32.EncodeToString(p[:]), true
}

// plainID turns a stored name back into the plain hash.
func (d *derived) plainID(stored string) (string, bool) {
	if len(stored) != 52 {
		return "", false
	}
	raw, err := b32.DecodeString(stored)
	if err != nil || len(raw) != 32 {
		return "", false
	}
	var id [32]byte
	copy(id[:], raw)
	p := d.feistel(id, true)
	return hex.EncodeToString(p[:]), true
}

// sealName encrypts a name segment deterministically (a synthetic IV: the
// nonce is a keyed hash of the name), so that the same set gets the same
// stored name on every computer and a listing can be turned back.
func (d *derived) sealName(name string) string {
	var iv [24]byte
	keyed(&d.nameSIV, iv[:], []byte(name))
	c, _ := chacha20.NewUnauthenticatedCipher(d.nameKey[:], iv[:])
	out := make([]byte, 24+len(name))
	copy(out, iv[:])
	c.XORKeyStream(out[24:], []byte(name))
	return b32.EncodeToString(out)
}

// openName reverses sealName; ok is false for a segment it did not write.
func (d *derived) openName(seg string) (string, bool) {
	raw, err := b32.DecodeString(seg)
	if err != nil || len(raw) < 24 {
		return "", false
	}
	c, _ := chacha20.NewUnauthenticatedCipher(d.nameKey[:], raw[:24])
	name := make([]byte, len(raw)-24)
	c.XORKeyStream(name, raw[24:])
	var iv [24]byte
	keyed(&d.nameSIV, iv[:], name)
	if subtle.ConstantTimeCompare(iv[:], raw[:24]) != 1 {
		return "", false
	}
	return string(name), true
}

// storedKey maps a plain key to the key it is stored under.
func (d *derived) storedKey(key string) string {
	kind, how := d.layout.kindOf(key)
	rest := strings.TrimPrefix(key, kind)
	switch how {
	case "flat":
		suffix := d.layout.Flat[kind]
		if h, ok := strings.CutSuffix(rest, suffix); ok {
			if s, ok := d.storedID(h); ok {
				return kind + s + suffix
			}
		}
	case "sharded":
		shard, h, ok := strings.Cut(rest, "/")
		if s, ok2 := d.storedID(h); ok && ok2 && len(shard) == 2 && h[:2] == shard {
			return kind + s[:2] + "/" + s
		}
	case "named":
		if name, tail, ok := strings.Cut(rest, "/"); ok && name != "" {
			return kind + d.sealName(name) + "/" + tail
		}
	}
	return key
}

// plainKey maps a stored key back; ok is false for a plain object's name
// that a sealed object would be stored under another name (left over from a
// plain hub, see contenthub.EncryptInPlace). Names of neither form (not a
// hash, no name) are kept as they are, sealed or not.
func (d *derived) plainKey(stored string) (string, bool) {
	kind, how := d.layout.kindOf(stored)
	rest := strings.TrimPrefix(stored, kind)
	switch how {
	case "":
		return stored, true
	case "flat":
		suffix := d.layout.Flat[kind]
		if s, ok := strings.CutSuffix(rest, suffix); ok {
			if h, ok := d.plainID(s); ok {
				return kind + h + suffix, true
			}
		}
	case "named":
		if seg, tail, ok := strings.Cut(rest, "/"); ok {
			if name, ok := d.openName(seg); ok {
				return kind + name + "/" + tail, true
			}
		}
	default:
		shard, s, ok := strings.Cut(rest, "/")
		if h, ok2 := d.plainID(s); ok && ok2 && len(shard) == 2 && s[:2] == shard {
			return kind + h[:2] + "/" + h, true
		}
	}
	return stored, d.storedKey(stored) == stored
}
