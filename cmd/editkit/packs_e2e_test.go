package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/hashing"
)

// A hub written before packs holds each small blob as an object of its
// own. hub pack packs them;
// killed (kill -9) after storing a pack, or after storing the index but
// before deleting anything, it loses nothing, and run again it finishes:
// the small blobs are in packs, the big one stays an object of its own,
// and every catalog item's content reads back and hashes right.
func TestHubPackOldHubE2E(t *testing.T) {
	long(t)
	hubs(t, func(t *testing.T, h *testHub) {
		bin := hooksBinary(t)
		src := filepath.Join(t.TempDir(), "Bins")
		var files []string
		for i := range 30 {
			p := filepath.Join(src, fmt.Sprintf("reel %02d.avb", i))
			writeRandom(t, p, 2000+i)
			files = append(files, p)
		}
		big := filepath.Join(src, "A001.mxf")
		writeRandom(t, big, 2<<20)
		files = append(files, big)
		if r := h.runBin(t, bin, nil, append([]string{"push", "--dest-path", "Bins"}, files...)...); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		oldHub(t, h, files)
		if n := len(h.objects(t, "blobs")); n != 31 {
			t.Fatalf("an old hub: %d single-object blobs, want 31", n)
		}
		check := func(what string) {
			t.Helper()
			if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 || !strings.Contains(r.stdout, "31 re-hashed") {
				t.Fatalf("%s: hub check: %s", what, r)
			}
		}
		for _, step := range []string{"pack-stored", "indexed"} {
			r := h.runBin(t, bin, []string{"EDITKIT_TEST_KILL_AT=hub-pack:" + step}, "hub", "pack")
			if r.code != -int(syscall.SIGKILL) {
				t.Fatalf("hub pack killed at %s: %s", step, r)
			}
			check("hub pack killed at " + step)
		}
		if r := h.runBin(t, bin, nil, "hub", "pack"); r.code != 0 {
			t.Fatalf("hub pack: %s", r)
		}
		if blobs := h.objects(t, "blobs"); len(blobs) != 1 {
			t.Fatalf("after hub pack: %v single-object blobs, want only the 2 MiB one", blobs)
		}
		if len(h.objects(t, "packs")) == 0 || len(h.objects(t, "index")) != 1 {
			t.Fatalf("after hub pack: packs %v, index %v", h.objects(t, "packs"), h.objects(t, "index"))
		}
		check("after hub pack")
		// Nothing left to do: a second run changes nothing.
		before := h.objects(t, "packs")
		if r := h.runBin(t, bin, nil, "hub", "pack"); r.code != 0 || strings.Join(h.objects(t, "packs"), " ") != strings.Join(before, " ") {
			t.Fatalf("hub pack again: %s; packs %v, were %v", r, h.objects(t, "packs"), before)
		}
		os.RemoveAll(src)
	})
}

// oldHub turns h into a hub as editkit wrote it before packs: the content
// of files as objects of their own, no packs, no index.
func oldHub(t *testing.T, h *testHub, files []string) {
	t.Helper()
	os.RemoveAll(filepath.Join(h.dir, "packs"))
	os.RemoveAll(filepath.Join(h.dir, "index"))
	for _, kv := range h.env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	ctx := context.Background()
	hub, err := contenthub.Open(ctx, contenthub.Config{URL: h.url})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if _, err := hub.PutBlob(ctx, fmt.Sprintf("%x", hashing.SumBLAKE3(data)), f); err != nil {
			t.Fatal(err)
		}
	}
}
