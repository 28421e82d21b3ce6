package main

import "filippo.io/age"

// hubIdentities are the identities an encrypted hub is opened with (see
// identities); contenthub asks only for a hub that has a keyring.
func (e *env) hubIdentities() ([]age.Identity, error) {
	ids, err := e.identities()
	if err != nil {
		return nil, err
	}
	return ids.IDs, nil
}
