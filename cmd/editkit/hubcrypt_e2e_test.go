package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test/s3open"
	"github.com/editkit/editkit/internal/hubcrypt"
	"github.com/editkit/editkit/internal/hubkey"
)

// storage opens the test hub's storage from the test itself (to set up a
// keyring, or to look at what is stored).
func (h *testHub) storage(t *testing.T) backend.Backend {
	t.Helper()
	if h.srv != nil {
		return s3open.Backend(t, h.srv, strings.TrimPrefix(h.url, h.srv.URL("")+"/"))
	}
	b, err := backend.OpenLocal(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// encrypt gives the hub a keyring for n new people and returns their
// identity files; the hub's environment opens it as the first of them.
func (h *testHub) encrypt(t *testing.T, n int) []string {
	t.Helper()
	var files []string
	var rs []hubkey.Recipient
	for i := range n {
		f := filepath.Join(t.TempDir(), "identity.txt")
		r, err := hubkey.NewIdentityFile(f, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		rs = append(rs, r.WithLabel(string(rune('a'+i))))
	}
	if _, err := hubkey.Init(context.Background(), h.storage(t), rs); err != nil {
		t.Fatal(err)
	}
	h.env = append(h.env, "EDITKIT_IDENTITY="+files[0])
	return files
}

// grepStorage looks for each needle in every byte the hub's storage holds
// (the folder, or the S3 server's whole backing folder), names included.
func grepStorage(t *testing.T, root string, needles map[string][]byte) {
	t.Helper()
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		for what, s := range needles {
			if bytes.Contains([]byte(p), s) {
				t.Errorf("%s in the name %s", what, p)
			}
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for what, s := range needles {
			if bytes.Contains(data, s) {
				t.Errorf("%s in the stored bytes of %s", what, p)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("nothing stored")
	}
}

// pullAndCheck pulls the catalog onto a new drive, where the one item
// pushed must read back as want at rel, and hub check --read-data
// re-hashes every blob.
func pullAndCheck(t *testing.T, h *testHub, rel string, want []byte) {
	t.Helper()
	drive := filepath.Join(t.TempDir(), "EDITOR")
	os.Mkdir(drive, 0o755)
	tiny := t.TempDir()
	os.WriteFile(filepath.Join(tiny, "readme.txt"), []byte("drive"), 0o644)
	if r := editkitEnv(t, h.env, "copy", tiny, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	var pl pullOut
	if r := h.runJSON(t, &pl, "pull", drive); r.code != 0 || pl.Pulled != 1 {
		t.Fatalf("pull: %s", r)
	}
	if got, _ := os.ReadFile(filepath.Join(drive, filepath.FromSlash(rel))); !bytes.Equal(got, want) {
		t.Fatalf("pulled %s differs", rel)
	}
	var cr backup.CheckResult
	if r := h.runJSON(t, &cr, "hub", "check", "--read-data"); r.code != 0 || cr.Checked == 0 {
		t.Fatalf("hub check --read-data: %s", r)
	}
}

// An encrypted hub, through the real binary: backup → restore and push →
// pull round trips, hub check --read-data re-hashes every blob, and not one
// byte stored (names included) shows a plain path, a file's content or its
// plain BLAKE3; a person whose key is not in the keyring gets exit 2 and
// one sentence.
func TestEncryptedHubRoundTrips(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		h.encrypt(t, 1)
		src := projectTree(t, 131, 6<<20)
		secret := []byte("INT. VAULT - NIGHT. The butler opens the safe: unreleased ending, take 7. ")
		secretName := "Reel7_SecretEnding_v3.avb"
		os.WriteFile(filepath.Join(src, secretName), bytes.Repeat(secret, 2000), 0o644)
		small := []byte("tiny packed note about the secret ending, scene 42")
		os.WriteFile(filepath.Join(src, "Scene42_Notes.txt"), small, 0o644)

		var b backupOut
		if r := h.runJSON(t, &b, "backup", "--set", "SecretShow", src); r.code != 0 || b.Uploaded == 0 {
			t.Fatalf("backup: %s", r)
		}
		to := t.TempDir()
		if r := h.run(t, "restore", "latest", "--to", to); r.code != 0 {
			t.Fatalf("restore: %s", r)
		}
		assertCopied(t, src, filepath.Join(to, "Show"))

		inbox := t.TempDir()
		media := writeMedia(t, filepath.Join(inbox, "VFX_SECRET_010.mxf"), 3<<20, 5)
		if r := h.run(t, "push", "--category", "vfx", "--dest-path", "VFX/Secret", filepath.Join(inbox, "VFX_SECRET_010.mxf")); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		pullAndCheck(t, h, "VFX/Secret/VFX_SECRET_010.mxf", media)

		needles := map[string][]byte{"a plain path": []byte("SecretEnding"), "a pushed path": []byte("VFX_SECRET"),
			"a set name": []byte("SecretShow"), "a file's content": secret[:40], "a small file's content": small[:30],
			"pushed media": media[1000:1064]}
		for what, data := range map[string][]byte{"secret file": bytes.Repeat(secret, 2000), "small file": small, "media": media} {
			sum := blake3.Sum256(data)
			needles["the plain BLAKE3 of the "+what] = []byte(hex.EncodeToString(sum[:]))
			needles["the plain BLAKE3 (raw) of the "+what] = sum[:]
		}
		root := h.dir
		if h.srv != nil {
			root = h.srv.Dir
		}
		grepStorage(t, root, needles)

		// Someone whose key the hub does not hold.
		other := filepath.Join(t.TempDir(), "identity.txt")
		rcpt, err := hubkey.NewIdentityFile(other, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r := editkitEnv(t, append(append([]string(nil), h.env...), "EDITKIT_IDENTITY="+other), "snapshots", "--hub", h.url)
		if r.code != 2 || !strings.Contains(r.stderr, "hub keys add "+rcpt.Key) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("a person without a key: %s", r)
		}
	})
}

// sealedBlobPath is the file the hub's storage holds the blob b3 in (the
// hub opened with identity).
func (h *testHub) sealedBlobPath(t *testing.T, identity, b3 string) string {
	t.Helper()
	ids, err := hubkey.FindIdentities(identity, "", "")
	if err != nil {
		t.Fatal(err)
	}
	hub := contenthub.New(h.storage(t))
	keys, err := hubkey.Load(context.Background(), hub.Storage(), ids.IDs, "")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := contenthub.NewEncrypted(hub.Storage(), keys)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(h.dir, filepath.FromSlash(enc.StoredBlobKey(b3)))
}

// A flipped byte, a truncated object, a blob swapped for another and an
// object from another hub are each refused with the object named: restore
// and pull write nothing at the final name, hub check --read-data reports
// the blob damaged.
func TestEncryptedHubRefusesTampering(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		ids := h.encrypt(t, 1)
		src := t.TempDir()
		a := writeMedia(t, filepath.Join(src, "A001.mov"), 1<<20, 1)
		b := writeMedia(t, filepath.Join(src, "B001.mov"), 1<<20, 2)
		if r := h.run(t, "backup", "--set", "s", src); r.code != 0 {
			t.Fatalf("backup: %s", r)
		}
		hexOf := func(d []byte) string { s := blake3.Sum256(d); return hex.EncodeToString(s[:]) }
		pathA := h.sealedBlobPath(t, ids[0], hexOf(a))
		pathB := h.sealedBlobPath(t, ids[0], hexOf(b))
		sealedA, err := os.ReadFile(pathA)
		if err != nil {
			t.Fatal(err)
		}
		sealedB, _ := os.ReadFile(pathB)

		// The same file backed up to another encrypted hub, for its object.
		other := &testHub{name: "other", url: t.TempDir(), env: stateEnv(t)}
		other.dir = other.url
		otherIDs := other.encrypt(t, 1)
		if r := other.run(t, "backup", "--set", "s", src); r.code != 0 {
			t.Fatalf("backup to the other hub: %s", r)
		}
		foreign, err := os.ReadFile(other.sealedBlobPath(t, otherIDs[0], hexOf(a)))
		if err != nil {
			t.Fatal(err)
		}

		// The same content pushed (deduplicated: the same blob), for pull.
		if r := h.run(t, "push", "--category", "footage", "--dest-path", "Media", filepath.Join(src, "A001.mov")); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		drive := filepath.Join(t.TempDir(), "EDITOR")
		os.Mkdir(drive, 0o755)
		if r := editkitEnv(t, h.env, "copy", t.TempDir(), drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
		pulled := filepath.Join(drive, "Media", "A001.mov")

		flipped := bytes.Clone(sealedA)
		flipped[len(flipped)/2] ^= 0x10
		for _, c := range []struct {
			name string
			data []byte
		}{
			{"a flipped byte", flipped},
			{"a truncated object", sealedA[:len(sealedA)-100]},
			{"cut at a chunk boundary", sealedA[:hubcrypt.SealedSize(64<<10)]},
			{"a blob swapped for another", sealedB},
			{"an object from another hub", foreign},
		} {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				if err := os.WriteFile(pathA, c.data, 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.WriteFile(pathA, sealedA, 0o644)
				to := t.TempDir()
				r := h.run(t, "restore", "latest", "--to", to)
				if r.code != 1 || !strings.Contains(r.stdout+r.stderr, hexOf(a)) {
					t.Errorf("restore: want exit 1 naming blob %s: %s", hexOf(a), r)
				}
				if _, err := os.Stat(filepath.Join(to, filepath.Base(src), "A001.mov")); !os.IsNotExist(err) {
					t.Errorf("restore wrote the refused file at its final name (%v)", err)
				}
				r = h.run(t, "pull", drive)
				if r.code != 1 || !strings.Contains(r.stdout+r.stderr, hexOf(a)) {
					t.Errorf("pull: want exit 1 naming blob %s: %s", hexOf(a), r)
				}
				if _, err := os.Stat(pulled); !os.IsNotExist(err) {
					t.Errorf("pull wrote the refused file at its final name (%v)", err)
				}
				var cr backup.CheckResult
				r = h.runJSON(t, &cr, "hub", "check", "--read-data")
				if r.code != 1 || !strings.Contains(r.stdout, hexOf(a)) || strings.Contains(r.stdout, hexOf(b)+`","`) {
					t.Errorf("hub check --read-data: want exit 1 naming blob %s: %s", hexOf(a), r)
				}
			})
		}
		to := t.TempDir()
		if r := h.run(t, "restore", "latest", "--to", to); r.code != 0 {
			t.Fatalf("restore once the object is back: %s", r)
		}
		assertCopied(t, src, filepath.Join(to, filepath.Base(src)))
	})
}

// kill -9 in the middle of the multipart upload of an encrypted blob: the
// rerun resumes from the parts stored (a part sealed again is the same
// bytes) and the blob decrypts and matches its hash (hub check
// --read-data).
func TestEncryptedBackupResumesAfterKill(t *testing.T) {
	backupResumesAfterKill(t, func(h *testHub) { h.encrypt(t, 1) })
}

// A plain hub that holds backups and pushed media, encrypted in place by
// `hub init --encrypt`: killed (kill -9) once between an object's sealed
// copy and the removal of its plain one, and once between objects; in
// between, others are told to wait; the third run finishes. Then every
// backup and pushed file reads back, hub check --read-data passes, and no
// stored byte shows a plain path, content or BLAKE3.
func TestEncryptExistingHubResumesAfterKill(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		src := projectTree(t, 141, 3<<20)
		secret := bytes.Repeat([]byte("EXT. HARBOUR - DAWN. The twist nobody must see before the premiere. "), 3000)
		os.WriteFile(filepath.Join(src, "Reel9_TheTwist.avb"), secret, 0o644)
		if r := h.run(t, "backup", "--set", "TwistShow", src); r.code != 0 {
			t.Fatalf("plain backup: %s", r)
		}
		inbox := t.TempDir()
		media := writeMedia(t, filepath.Join(inbox, "VFX_TWIST_020.mxf"), 2<<20, 7)
		if r := h.run(t, "push", "--category", "vfx", "--dest-path", "VFX/Twist", filepath.Join(inbox, "VFX_TWIST_020.mxf")); r.code != 0 {
			t.Fatalf("plain push: %s", r)
		}
		idFile := filepath.Join(t.TempDir(), "identity.txt")
		if _, err := hubkey.NewIdentityFile(idFile, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.env = append(h.env, "EDITKIT_IDENTITY="+idFile)
		initArgs := []string{"hub", "init", h.url, "--encrypt"}
		objects := len(h.objects(t, ""))
		for _, at := range []string{"hub-encrypt:written:2", "hub-encrypt:done:5"} {
			r := editkitEnv(t, append(append([]string(nil), h.env...), "EDITKIT_TEST_KILL_AT="+at), initArgs...)
			if r.code == 0 || r.code == 1 || r.code == 2 {
				t.Fatalf("hub init --encrypt (of %d objects) was to be killed at %s: %s", objects, at, r)
			}
			if r := h.run(t, "snapshots"); r.code != 2 || !strings.Contains(r.stderr, "being encrypted") {
				t.Errorf("a reader during the encryption: %s", r)
			}
		}
		if r := editkitEnv(t, h.env, initArgs...); r.code != 0 {
			t.Fatalf("hub init --encrypt, run again to finish: %s", r)
		}
		if r := editkitEnv(t, h.env, initArgs...); r.code != 2 || !strings.Contains(r.stderr, "encrypted already") {
			t.Errorf("hub init --encrypt on an encrypted hub: %s", r)
		}

		to := t.TempDir()
		if r := h.run(t, "restore", "latest", "--to", to); r.code != 0 {
			t.Fatalf("restore: %s", r)
		}
		assertCopied(t, src, filepath.Join(to, "Show"))
		pullAndCheck(t, h, "VFX/Twist/VFX_TWIST_020.mxf", media)
		needles := map[string][]byte{"a plain path": []byte("TheTwist"), "a pushed path": []byte("VFX_TWIST"),
			"a set name": []byte("TwistShow"), "a file's content": secret[:40], "pushed media": media[5000:5064]}
		for what, data := range map[string][]byte{"secret file": secret, "media": media} {
			sum := blake3.Sum256(data)
			needles["the plain BLAKE3 of the "+what] = []byte(hex.EncodeToString(sum[:]))
		}
		root := h.dir
		if h.srv != nil {
			root = h.srv.Dir
		}
		grepStorage(t, root, needles)
	})
}
