package hubkey

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/editkit/editkit/internal/fsx"
)

// A person added in the newest keyring generation cannot check its link
// to the generation before (they had no key for that one), so the first
// time they open the keyring they trust it as it is. Their computer then
// remembers, in a file of their own state folder per hub, the generation
// they accepted and the digest of its stored object; from then on a
// keyring older than that (a rollback), the same generation with other
// bytes (a replacement), or a newer one not linked generation by
// generation to it is refused for them.

// accepted is what a trust file holds.
type accepted struct {
	Hub        string `json:"hub"`
	Generation uint64 `json:"generation"`
	Digest     string `json:"sha256"` // of the generation's stored object
}

// trustFile is the file in trustDir that remembers the generation of the
// hub at location accepted with the identities ids: per person, as people
// may share a computer's state folder.
func trustFile(trustDir, location string, ids []age.Identity) string {
	var keys []string
	for _, r := range recipientsOf(ids) {
		keys = append(keys, r.Key)
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(location + "\x00" + strings.Join(keys, "\x00")))
	return filepath.Join(trustDir, "keyring-"+hex.EncodeToString(sum[:8])+".json")
}

func objectDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// readAccepted returns what the person (ids) accepted of the hub at location
// (ok false: nothing yet, or no trustDir).
func readAccepted(trustDir, location string, ids []age.Identity) (a accepted, ok bool, err error) {
	if trustDir == "" {
		return a, false, nil
	}
	path := trustFile(trustDir, location, ids)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return a, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &a)
	}
	if err == nil && (a.Hub != location || a.Generation == 0 || len(a.Digest) != 64) {
		err = errors.New("not a keyring trust record of this hub")
	}
	if err != nil {
		return a, false, fmt.Errorf("keyring trust record %s: %w (remove it to trust the hub's keyring as it is now)", path, err)
	}
	return a, true, nil
}

// remember records that the person accepted generation gen of the hub at
// location, whose object has digest.
func remember(trustDir, location string, ids []age.Identity, gen uint64, digest string) error {
	if trustDir == "" {
		return nil
	}
	if err := os.MkdirAll(trustDir, 0o700); err != nil {
		return fmt.Errorf("remembering the keyring accepted: %w", err)
	}
	data, _ := json.Marshal(accepted{Hub: location, Generation: gen, Digest: digest})
	path := trustFile(trustDir, location, ids)
	if err := fsx.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("remembering the keyring accepted in %s: %w (check the folder can be written)", path, err)
	}
	return nil
}

// distrustError refuses a keyring that does not follow from the one the
// person accepted.
func distrustError(trustDir, location string, ids []age.Identity, what string) error {
	return fmt.Errorf("the hub's keyring %s: someone with write access to the hub may have tampered with it; do not use the hub until a keyholder has looked (once they confirm the keyring is right, remove %s to trust it as it is now)",
		what, trustFile(trustDir, location, ids))
}
