// Command mkmedia generates a tree of sample editorial media for demos,
// tests and benchmarks (see package samplemedia):
//
//	mkmedia [--seed N] [--size 2GiB] [--many-files N] [--unportable] DIR
//
// It exits 2 on bad usage and 1 if generation fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/samplemedia"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkmedia", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkmedia [--seed N] [--size SIZE] [--many-files N] [--unportable] DIR")
		fs.PrintDefaults()
	}
	var o samplemedia.Options
	size := fs.String("size", "256MiB", "approximate total `size`: bytes, or with a KB/MB/GB/TB or KiB/MiB/GiB/TiB suffix")
	fs.Uint64Var(&o.Seed, "seed", 1, "random `seed`: the same seed and flags give the same tree")
	fs.IntVar(&o.ManyFiles, "many-files", 0, "instead of realistic media, `N` small files in folders of 200 (scale tests)")
	fs.BoolVar(&o.Unportable, "unportable", false, "also add names exFAT and NTFS cannot hold")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintf(stderr, "mkmedia: --size: %v\n", err)
		return 2
	}
	o.TotalBytes = n
	if o.ManyFiles < 0 {
		fmt.Fprintf(stderr, "mkmedia: --many-files: %d is negative\n", o.ManyFiles)
		return 2
	}

	start := time.Now()
	st, err := samplemedia.Generate(ctx, dir, o)
	if err != nil {
		fmt.Fprintf(stderr, "mkmedia: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d files, %d dirs, %d bytes (%s), %d junk, %d Avid DB, %d unportable in %.1fs\n",
		dir, st.Files, st.Dirs, st.Bytes, humanSize(st.Bytes), st.Junk, st.AvidDB, st.Unportable, time.Since(start).Seconds())
	return 0
}

// parseSize parses "2GiB", "500MB", "20 MiB", "1.5GB" or a plain number of
// bytes. Suffixes are case-insensitive; a bare K, M or G is refused because
// it is ambiguous between 1000 and 1024.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
		{"b", 1},
	}
	num, scale := strings.TrimSpace(s), 1.0
	lower := strings.ToLower(num)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			num, scale = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.scale
			break
		}
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && scale == 1 {
		if n < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a size like 2GiB, 500MB or 1048576", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	v := f * scale
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v), nil
}

// humanSize formats n with a binary unit, for the summary line.
func humanSize(n int64) string {
	const units = "KMGTPE"
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}
