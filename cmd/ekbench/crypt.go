//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hubkey"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/units"
)

// cryptSuite measures what encrypting the hub costs: backup and restore
// of the same media tree to a plain and to an encrypted folder hub, in
// turn, in one run (target: encrypted at least 0.9× plain), and sealing
// one file on one core against the age tool encrypting it.
func (b *bench) cryptSuite() error {
	if _, err := exec.LookPath("age"); err != nil {
		return fmt.Errorf("age is missing: run .ci/install-deps")
	}
	fmt.Printf("\ncrypt: plain vs encrypted hub (folder hubs), same data, same run\n")
	media, err := b.tree("media", samplemedia.Options{Seed: 1, TotalBytes: b.size})
	if err != nil {
		return err
	}
	base := filepath.Join(b.work, "crypt")
	os.RemoveAll(base)
	defer os.RemoveAll(base)
	idFile := filepath.Join(base, "identity.txt")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(base, "config.toml"), nil, 0o644); err != nil {
		return err
	}
	rcpt, err := hubkey.NewIdentityFile(idFile, time.Now())
	if err != nil {
		return err
	}
	env := append(os.Environ(), "EDITKIT_STATE_DIR="+filepath.Join(base, "state"),
		"EDITKIT_CONFIG="+filepath.Join(base, "config.toml"), "EDITKIT_IDENTITY="+idFile)

	// CPU seconds (user+sys) tell what encryption costs even on a busy
	// machine, where wall times wander. Each round runs both kinds, the
	// one that goes first alternating; what a kind's run leaves (a hub and
	// a restored tree of the whole size) is removed after a sync and
	// synced away again before the other kind's run: / may be mounted
	// with discard, where the deletes' journal commits would otherwise
	// slow whatever runs next.
	var times, cpu = map[string][]time.Duration{}, map[string][]time.Duration{}
	for r := range b.rounds {
		kinds := []string{"plain", "encrypted"}
		if r%2 == 1 {
			kinds[0], kinds[1] = kinds[1], kinds[0]
		}
		for _, kind := range kinds {
			// A hub of its own each round: this computer remembers the
			// keyring of every encrypted hub it has used, by location.
			if err := b.cryptRound(env, media, filepath.Join(base, fmt.Sprintf("%s-%d", kind, r)), kind, times, cpu); err != nil {
				return err
			}
		}
	}
	fmt.Printf("\n  %-10s %12s %12s %10s %12s %16s   (%s, median of %d)\n", "", "plain", "encrypted", "enc/plain", "per round", "CPU plain/enc", units.FormatBytes(b.size), b.rounds)
	for _, op := range []string{"backup", "restore"} {
		p, e := median(times[op+" plain"]), median(times[op+" encrypted"])
		var paired []time.Duration // each round's ratio, as a duration for median
		for i := range times[op+" plain"] {
			paired = append(paired, time.Duration(float64(time.Second)*times[op+" plain"][i].Seconds()/times[op+" encrypted"][i].Seconds()))
		}
		fmt.Printf("  %-10s %10s/s %10s/s %9.2f× %11.2f× %7.2fs/%.2fs\n", op, rate(b.size, p), rate(b.size, e), p.Seconds()/e.Seconds(),
			median(paired).Seconds(), median(cpu[op+" plain"]).Seconds(), median(cpu[op+" encrypted"]).Seconds())
	}

	// One core: seal the largest file of the tree, and age it.
	file, size, err := largestFile(media)
	if err != nil {
		return err
	}
	out := filepath.Join(base, "sealed")
	os.MkdirAll(out, 0o755)
	var sealTimes, ageTimes []time.Duration
	for range b.rounds {
		took, err := sealOnOneCore(b.ctx, out, file)
		if err != nil {
			return err
		}
		sealTimes = append(sealTimes, took)
		fmt.Printf("  %-58s %9s\n", "hubcrypt seal, one core ("+units.FormatBytes(size)+")", took.Round(10*time.Millisecond))
		took, _, err = b.runEnv("age -r RECIPIENT ("+units.FormatBytes(size)+")", os.Environ(), "age", "-r", rcpt.Key, "-o", os.DevNull, file)
		if err != nil {
			return err
		}
		ageTimes = append(ageTimes, took)
	}
	s, a := median(sealTimes), median(ageTimes)
	fmt.Printf("\n  encryption per core: editkit %s/s, age %s/s (%.2f× age)\n", rate(size, s), rate(size, a), a.Seconds()/s.Seconds())
	return nil
}

// cryptRound backs up media to a new hub of the kind (plain or encrypted)
// at hub and restores it, each from a cold page cache, recording wall and
// CPU times; then it removes both, between syncs.
func (b *bench) cryptRound(env []string, media, hub, kind string, times, cpu map[string][]time.Duration) error {
	to := hub + "-restored"
	args := []string{b.editkit, "hub", "init", hub}
	if kind == "encrypted" {
		args = append(args, "--encrypt")
	}
	if _, _, err := b.runEnv("editkit hub init ("+kind+")", env, args...); err != nil {
		return err
	}
	for _, op := range []string{"backup", "restore"} {
		argv := []string{b.editkit, "backup", "--quiet", "--hub", hub, "--set", "bench", media}
		if op == "restore" {
			argv = []string{b.editkit, "restore", "--quiet", "--hub", hub, "latest", "--to", to}
		}
		b.dropCaches()
		cpu0 := childCPU()
		took, _, err := b.runEnv("editkit "+op+" ("+kind+")", env, argv...)
		if err != nil {
			return err
		}
		times[op+" "+kind] = append(times[op+" "+kind], took)
		cpu[op+" "+kind] = append(cpu[op+" "+kind], childCPU()-cpu0)
	}
	syscall.Sync()
	os.RemoveAll(to)
	os.RemoveAll(hub)
	syscall.Sync()
	return nil
}

// childCPU is the user and system time of the children waited for so far.
func childCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rate(n int64, d time.Duration) string {
	return units.FormatBytes(int64(float64(n) / d.Seconds()))
}

// sealOnOneCore seals file as a hub blob on one goroutine and throws
// the sealed bytes away, as the age run writes to /dev/null: the cipher's
// cost alone, with no disk write or sync in either.
func sealOnOneCore(ctx context.Context, dir, file string) (time.Duration, error) {
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	b, err := backend.OpenLocal(dir)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	h, err := contenthub.NewEncrypted(discardPuts{b}, &hubkey.Keys{Current: 1, Data: map[uint32][32]byte{1: {1}}})
	if err != nil {
		return 0, err
	}
	// The sealer spreads a read over every core: here it gets one.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	start := time.Now()
	_, err = h.PutBlob(ctx, strings.Repeat("0", 64), file)
	return time.Since(start), err
}

// discardPuts is a store whose Put reads what it is given, in order, and
// keeps none of it.
type discardPuts struct{ backend.Backend }

func (discardPuts) Put(_ context.Context, _ string, src backend.Source, _ backend.PutOptions) error {
	_, err := io.Copy(io.Discard, io.NewSectionReader(src, 0, src.Length()))
	return err
}

func largestFile(root string) (string, int64, error) {
	var best string
	var size int64
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, _ := d.Info(); fi != nil && fi.Size() > size {
				best, size = p, fi.Size()
			}
		}
		return err
	})
	return best, size, err
}
