package main

import "filippo.io/age"

// hubIdentities are the identities an encrypted hub is opened with (see
// identities in key.go: --identity, $EDITKIT_IDENTITY, identity in the
// settings file, else identity.txt beside it, and the SSH keys in
// ~/.ssh). contenthub asks only for a hub that has a keyring.
func (e *env) hubIdentities() ([]age.Identity, error) {
	ids, err := e.identities()
	if err != nil {
		return nil, err
	}
	return ids.IDs, nil
}
