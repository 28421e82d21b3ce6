package hubkey

import (
	"context"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

// A newcomer cannot check the link of the generation that added them (they
// have no key for the one before) and trusts it on first use; from then on
// their computer holds them to it: the same generation with other content,
// or a keyring rolled back to an older generation, is refused, while the
// keyholders' real next generation is taken.
func TestNewcomerHoldsToTheKeyringAccepted(t *testing.T) {
	ctx := context.Background()
	b := newHub(t)
	trust := t.TempDir() // the newcomers' state folder (shared: one computer)
	ana, bo, cy := newPerson(t, "ana"), newPerson(t, "bo"), newPerson(t, "cy")
	if _, err := Init(ctx, b, []Recipient{ana.rcpt}); err != nil {
		t.Fatal(err)
	}
	if err := Add(ctx, b, ana.ids(), "", bo.rcpt); err != nil {
		t.Fatal(err)
	}
	real2 := readObject(t, b, generationKey(2))
	if _, err := Load(ctx, b, bo.ids(), trust); err != nil {
		t.Fatalf("bo opens the keyring that added them: %v", err)
	}
	put := func(key string, data []byte) {
		t.Helper()
		if err := b.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// forge replaces generation gen with one of the forger's own, wrapped
	// to bo (whose public key is no secret), that bo cannot tell from a
	// real one by its link.
	forge := func(gen uint64) {
		t.Helper()
		if err := b.Delete(ctx, generationKey(gen)); err != nil {
			t.Fatal(err)
		}
		if err := writeGeneration(ctx, b, forgedRing(gen, bo.rcpt), randomBytes(32)); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what, want string) {
		t.Helper()
		_, err := Load(ctx, b, bo.ids(), trust)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "tampered") || !strings.Contains(err.Error(), trust) {
			t.Fatalf("bo opens %s: %v", what, err)
		}
	}

	forge(2)
	if _, err := Load(ctx, b, bo.ids(), ""); err != nil {
		t.Fatalf("without a trust folder the forged generation 2 passes (what the trust folder is for): %v", err)
	}
	refused("a forged generation 2", "generation 2 is not the one you accepted")
	put(generationKey(2), real2)

	// The keyholders' real next generation is taken, and then held to.
	if err := Add(ctx, b, ana.ids(), "", cy.rcpt); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, b, bo.ids(), trust); err != nil {
		t.Fatalf("bo opens the real generation 3: %v", err)
	}
	if _, err := Load(ctx, b, cy.ids(), trust); err != nil {
		t.Fatalf("cy, a newcomer on the same computer, opens generation 3: %v", err)
	}
	real3 := readObject(t, b, generationKey(3))
	forge(3)
	refused("a forged generation 3", "generation 3 is not the one you accepted")

	// Rolled back: generation 3 gone, the real generation 2 on top.
	if err := b.Delete(ctx, generationKey(3)); err != nil {
		t.Fatal(err)
	}
	refused("a keyring rolled back to generation 2", "went back to generation 2 from generation 3")
	// Rolled back with generation 2 forged too.
	forge(2)
	refused("a keyring rolled back to a forged generation 2", "went back to generation 2")

	put(generationKey(2), real2)
	put(generationKey(3), real3)
	if _, err := Load(ctx, b, bo.ids(), trust); err != nil {
		t.Fatalf("bo opens the real keyring again: %v", err)
	}
	// A real generation 4, but the accepted 3 taken away.
	if err := Add(ctx, b, ana.ids(), "", newPerson(t, "di").rcpt); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, generationKey(3)); err != nil {
		t.Fatal(err)
	}
	refused("a keyring without the generation accepted", "generation 3, which you accepted before, is missing")
}

// A generation after the one accepted that is not linked to it, even one
// hidden behind a newer generation, is refused.
func TestNewcomerRefusesABrokenChainAfterTheAccepted(t *testing.T) {
	ctx := context.Background()
	b := newHub(t)
	trust := t.TempDir()
	ana, bo := newPerson(t, "ana"), newPerson(t, "bo")
	if _, err := Init(ctx, b, []Recipient{ana.rcpt}); err != nil {
		t.Fatal(err)
	}
	if err := Add(ctx, b, ana.ids(), "", bo.rcpt); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, b, bo.ids(), trust); err != nil {
		t.Fatal(err)
	}
	// The forger writes generation 3 (not linked to 2) and 4 linked to
	// their own 3: only 4's link is checked without the trust record.
	g3 := forgedRing(3, bo.rcpt)
	if err := writeGeneration(ctx, b, g3, randomBytes(32)); err != nil {
		t.Fatal(err)
	}
	g4 := g3.clone()
	g4.Generation = 4
	if err := writeGeneration(ctx, b, g4, g3.ChainKey); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, b, bo.ids(), ""); err != nil {
		t.Fatalf("without a trust folder generation 4 passes: %v", err)
	}
	if _, err := Load(ctx, b, bo.ids(), trust); err == nil || !strings.Contains(err.Error(), "keyring "+generationKey(3)+" was not written by a keyholder") {
		t.Fatalf("bo opens a keyring whose generation 3 is not linked to the 2 they accepted: %v", err)
	}
}

// forgedRing is generation gen of a keyring someone made up, with keys of
// their own, wrapped to to.
func forgedRing(gen uint64, to Recipient) *ring {
	return &ring{Generation: gen, Current: 1, Data: map[uint32][]byte{1: randomBytes(32)},
		HubID: randomBytes(16), IDKey: randomBytes(32), Recipients: []Recipient{to}}
}
