package main

import (
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/editkit/editkit/internal/config"
	"github.com/editkit/editkit/internal/hubkey"
)

// hubIdentities are the identities an encrypted hub is opened with:
// $EDITKIT_IDENTITY, else identity.txt beside the settings file, and the
// SSH keys in ~/.ssh. contenthub asks only for a hub that has a keyring.
func (e *env) hubIdentities() ([]age.Identity, error) {
	home, _ := os.UserHomeDir()
	ids, err := hubkey.FindIdentities(os.Getenv("EDITKIT_IDENTITY"), filepath.Join(filepath.Dir(config.DefaultPath()), "identity.txt"), home)
	if err != nil {
		return nil, err
	}
	return ids.IDs, nil
}
