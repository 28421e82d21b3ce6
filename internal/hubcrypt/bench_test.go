package hubcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// The AEADs for a 64 KiB chunk, and a whole chunk as sealed here (the
// nonce, from GMAC or BLAKE3, plus the suite this processor seals with). Run with
// GODEBUG=cpu.aes=off,cpu.avx2=off,cpu.avx=off to see a machine without
// AES-NI or AVX: XChaCha20-Poly1305 was chosen because it needs neither.
func BenchmarkChunk(b *testing.B) {
	key := make([]byte, 32)
	plain := make([]byte, chunkSize)
	out := make([]byte, 0, sealedChunk)
	x, _ := chacha20poly1305.NewX(key)
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	for _, c := range []struct {
		name string
		aead cipher.AEAD
	}{{"XChaCha20-Poly1305", x}, {"AES-256-GCM", g}} {
		b.Run(c.name, func(b *testing.B) {
			nonce := make([]byte, c.aead.NonceSize())
			b.SetBytes(chunkSize)
			for range b.N {
				out = c.aead.Seal(out[:0], nonce, plain, nil)
			}
		})
	}
	b.Run("sealChunk", func(b *testing.B) {
		d, err := derive(&Keys{Current: 1, Data: map[uint32][32]byte{1: {}}}, testLayout)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(chunkSize)
		for range b.N {
			out = d.sealChunk(out[:0], "blobs/ab/x", 0, false, plain)
		}
	})
}
