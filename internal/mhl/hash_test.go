package mhl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestNewHash(t *testing.T) {
	// xxhsum -H1/-H2/-H3, md5sum, sha1sum and the C4 reference of "abc".
	want := map[Format]string{
		MD5:      "900150983cd24fb0d6963f7d28e17f72",
		SHA1:     "a9993e364706816aba3e25717850c26c9cd0d89d",
		XXH64:    "44bc2cf5ad770999",
		XXH3:     "78af5f94892f3950",
		XXH128:   "06b05ab6733a618578af5f94892f3950",
		C4Format: "c45S4rnaTNWonxss1u8LzsaJdEph1AJhWUF4sh2waXKMsutyfAxg4ybUeuXVWS9HdNcEypmeXn8FZGonD4w1rj9DZp",
	}
	for f, w := range want {
		h, err := NewHash(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte("ab"))
		h.Write([]byte("c"))
		if got := h.Digest(); got != w {
			t.Errorf("%s(abc) = %s, want %s", f, got, w)
		}
		if len(h.Bytes()) != digestSize(f) {
			t.Errorf("%s: %d digest bytes, want %d", f, len(h.Bytes()), digestSize(f))
		}
		if got := sum(f, nil, []byte("abc")); !bytes.Equal(got, h.Bytes()) {
			t.Errorf("%s: one-shot sum %x, streaming %x", f, got, h.Bytes())
		}
		_, b, err := decodeDigest(f, w)
		if err != nil || !bytes.Equal(b, h.Bytes()) {
			t.Errorf("%s: decodeDigest(%s) = %x, %v", f, w, b, err)
		}
	}
	if _, err := NewHash("blake3"); err == nil {
		t.Error("NewHash(blake3) succeeded")
	}
}

func TestDecodeDigest(t *testing.T) {
	canon, _, err := decodeDigest(MD5, "900150983CD24FB0D6963F7D28E17F72")
	if err != nil || canon != "900150983cd24fb0d6963f7d28e17f72" {
		t.Errorf("upper-case hex: %q, %v", canon, err)
	}
	for _, bad := range []struct {
		f Format
		s string
	}{{MD5, "abc"}, {XXH64, "zzzzzzzzzzzzzzzz"}, {XXH128, "44bc2cf5ad770999"}, {"crc32", "00000000"}} {
		if _, _, err := decodeDigest(bad.f, bad.s); err == nil {
			t.Errorf("decodeDigest(%s, %q) succeeded", bad.f, bad.s)
		}
	}
}

// TestDirectoryHashFormats checks directory hashes in md5, sha1 and c4
// against a Python port of the reference tool's hasher.py (the values
// below), and that every format round-trips through a history.
func TestDirectoryHashFormats(t *testing.T) {
	golden := []struct{ f, dir, content, structure string }{
		{"c4", "", "c43MNknACMPiighABBDcTvQT9aU2BW7QtBQgg6rX3qkhqkPtLiU31dozyKzjxXtRcuW4DycDwqjuemtNhN7VAFwBKT", "c422N5dErruVwGpFcuxVYASRBqTgqQpBUhvPFcT1ZeZSTcCsCQaVUEwoShc15ePoG5Wa5dQHWBMQ3CtsWbif8FGkdG"},
		{"c4", "b", "c41bXaNYWPKd8fVKQxV2nURmZZyGrdgQL3x8ueeFbQyqrdbcRz2jN3oKmPv45FXWtaFDV9NsY2V6nEGaQcatPu2gGo", "c42scGcBUNgeCQA29nziKhbdkFv8CJxZPFHnLUzn8unZ65XSj7fmqPM49aMZKPmWKjfAYoLWcT76zJwBqpsiAJV135"},
		{"c4", "b/empty", "c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT", "c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT"},
		{"c4", "c d", "c43tti19qqzFVE1hr1y7jM83LNE9XQn3AngFJnVDrWQ6Tj6jN7nGqHYMB9uB29XQ4FQzFQwCyaLKE9uB2Vsv5fDSb2", "c45AT94dvJY3SCVzULVM271qnUjaq2XYx7FtRHRoeJFxhtewHpygu3LZ8hiUbD5WkudHPZWT7zTbmePAGttCMSoywU"},
		{"md5", "", "59f8ef38668cc40b29765d22009ef7c3", "1a328b248308186d2302b1a47c5cdccd"},
		{"md5", "b", "4222a7fc71779a16f67638927db5ffa6", "e1ae50e1893e96fd0db5fd51b33f299b"},
		{"md5", "b/empty", "d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e"},
		{"md5", "c d", "5a82ede1d8f4c250228b87c39c63f8eb", "a7c1d1f59e443da98789c81a0c515034"},
		{"sha1", "", "be34fa815314fb935d36d96eca9a871d64a92d79", "115496655bfc151142834781faa9cedbf3a0e6e9"},
		{"sha1", "b", "e53c6b2efbc2e13c357fcff0635ea8bf13e8446c", "ab9def1f7453fd9fc938ea11ab342441e09d6726"},
		{"sha1", "b/empty", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"sha1", "c d", "d13d91fbc8d647e21ee58a1435dd4d6c19c2e941", "b6a5047aad9fa43db5d14f382a87335dfcf52122"},
	}
	all := []Format{XXH64, MD5, C4Format, SHA1, XXH3, XXH128} // any order in; schema order out
	for _, f := range []Format{MD5, SHA1, C4Format} {
		t.Run(string(f), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "tree")
			for p, content := range map[string]string{"a.txt": "A\n", "b/x.bin": "xx", "c d/\u00fc.txt": "unicode", "z.txt": ""} {
				full := filepath.Join(root, filepath.FromSlash(p))
				os.MkdirAll(filepath.Dir(full), 0o755)
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.MkdirAll(filepath.Join(root, "b", "empty"), 0o755)
			g := testGeneration()
			g.DirHashFormat = f
			path, err := WriteGeneration(root, g, walkTree(root, all, nil))
			if err != nil {
				t.Fatal(err)
			}
			validateHistories(t, root)
			got := parseFile(t, path)
			for _, w := range golden {
				if w.f != string(f) {
					continue
				}
				var dh []DirHash
				if w.dir == "" {
					dh = got.hdr.Root
				} else {
					dh = got.dirs[w.dir].Hashes
				}
				if len(dh) != 1 || dh[0].Content != w.content || dh[0].Structure != w.structure {
					t.Errorf("%s %q: %+v, want %s %s", f, w.dir, dh, w.content, w.structure)
				}
			}
			h, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			for rec := range h.Files() {
				want, err := hashFile(filepath.Join(root, filepath.FromSlash(rec.Path)), []Format{C4Format, MD5, SHA1, XXH128, XXH3, XXH64})
				if err != nil {
					t.Fatal(err)
				}
				if len(rec.Hashes) != len(want) {
					t.Fatalf("%s: %d hashes", rec.Path, len(rec.Hashes))
				}
				for i := range want {
					if rec.Hashes[i].Format != want[i].Format || rec.Hashes[i].Digest != want[i].Digest {
						t.Errorf("%s: hash %d is %s %s, want %s %s", rec.Path, i, rec.Hashes[i].Format, rec.Hashes[i].Digest, want[i].Format, want[i].Digest)
					}
				}
			}
		})
	}
}
