//go:build linux

// Command ekbench measures editkit side by side with the tools people use
// instead (cp, rsync, rclone, restic, b3sum, xxhsum) on the same generated media, in
// one run, and prints ratios: these machines are noisy, so only ratios
// measured together mean anything. `make bench` runs it.
//
//	ekbench [--work DIR] [--size 2GiB] [--many 100000] all|copy|small|verify|mhl|hub|tracker|place
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/units"
)

type bench struct {
	work    string
	editkit string
	ascmhl  string // the ASC MHL reference tool's folder
	size    int64
	many    int
	rounds  int
	cold    bool // page cache dropped before each run (needs root)
	results []row
	ctx     context.Context
}

// row is one measured command.
type row struct {
	group, name string
	took        time.Duration
	maxRSS      int64 // bytes, the largest process of the run
	note        string
}

func main() {
	work := flag.String("work", filepath.Join(os.TempDir(), "ekbench"), "scratch folder (needs about 5× --size free)")
	size := flag.String("size", "2GiB", "size of the generated media tree")
	many := flag.Int("many", 100_000, "files in the many-small-files tree (memory check)")
	rounds := flag.Int("rounds", 3, "rounds of every comparison; the median is reported")
	ascmhl := flag.String("ascmhl", filepath.Join("..", "shared", "reference", "ascmhl-tool"), "folder of the ASC MHL reference tool (the mhl suite races it)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: ekbench [flags] all|copy|small|verify|mhl|hub|tracker|place\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	n, err := units.ParseBytes(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{work: *work, size: n, many: *many, rounds: max(1, *rounds), ascmhl: *ascmhl, ctx: ctx}
	if err := b.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "ekbench:", err)
		os.Exit(1)
	}
	suites := map[string][]func() error{
		"copy":    {b.copySuite},
		"small":   {b.smallSuite},
		"verify":  {b.verifySuite},
		"mhl":     {b.mhlSuite},
		"hub":     {b.hubSuite},
		"tracker": {b.trackerSuite},
		"place":   {b.placeSuite},
		"mxf":     {b.mxfSuite},
		"cut":     {b.cutSuite},
		"crypt":   {b.cryptSuite},
		"all":     {b.copySuite, b.smallSuite, b.verifySuite, b.mhlSuite, b.hubSuite, b.trackerSuite},
	}
	run, ok := suites[flag.Arg(0)]
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	for _, s := range run {
		if err := s(); err != nil {
			fmt.Fprintln(os.Stderr, "ekbench:", err)
			os.Exit(1)
		}
	}
}

func (b *bench) setup() error {
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}
	b.editkit = filepath.Join(b.work, "editkit")
	build := exec.Command("go", "build", "-trimpath", "-o", b.editkit, "./cmd/editkit")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building editkit (run from the repository root): %w", err)
	}
	b.cold = os.Geteuid() == 0
	if !b.cold {
		fmt.Println("note: not root, so page caches cannot be dropped; every run reads a warm cache")
	}
	for _, tool := range []string{"cp", "rsync", "rclone", "b3sum", "xxhsum", "sync"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: run .ci/install-deps", tool)
		}
	}
	host, _ := os.Hostname()
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	fmt.Printf("ekbench on %s (%s), %d CPUs, work folder %s, %s\n", host, cpu, numCPU(), b.work, time.Now().UTC().Format(time.RFC3339))
	return nil
}

// tree generates (once) a sample tree and returns its path.
func (b *bench) tree(name string, o samplemedia.Options) (string, error) {
	dir := filepath.Join(b.work, name)
	marker := dir + ".done"
	want := fmt.Sprintf("%+v", o)
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		return dir, nil
	}
	os.RemoveAll(dir)
	os.Remove(marker)
	fmt.Printf("generating %s …\n", dir)
	st, err := samplemedia.Generate(b.ctx, dir, o)
	if err != nil {
		return "", err
	}
	fmt.Printf("  %d files, %d folders, %s\n", st.Files, st.Dirs, units.FormatBytes(st.Bytes))
	return dir, os.WriteFile(marker, []byte(want), 0o644)
}

// fresh empties the given folders and drops the page cache, so every
// measured command starts from the same cold state.
func (b *bench) fresh(dirs ...string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return b.dropCaches()
}

func (b *bench) dropCaches() error {
	syscall.Sync()
	if !b.cold {
		return nil
	}
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200)
}

// measure runs the steps one after another (each step's commands in
// parallel) and records the total wall time and the peak memory.
func (b *bench) measure(group, name, note string, steps ...[][]string) (time.Duration, error) {
	start := time.Now()
	var peak int64
	for _, step := range steps {
		cmds := make([]*exec.Cmd, len(step))
		for i, argv := range step {
			cmds[i] = exec.CommandContext(b.ctx, argv[0], argv[1:]...)
			cmds[i].Stderr = os.Stderr
			if err := cmds[i].Start(); err != nil {
				return 0, err
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				return 0, fmt.Errorf("%s: %v: %w", name, step[i], err)
			}
			if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > peak {
				peak = ru.Maxrss * 1024
			}
		}
	}
	took := time.Since(start)
	b.results = append(b.results, row{group: group, name: name, took: took, maxRSS: peak, note: note})
	fmt.Printf("  %-58s %9s  peak %s\n", name, took.Round(10*time.Millisecond), units.FormatBytes(peak))
	return took, nil
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// ratio prints a comparison line with its target.
func ratio(what string, ours, theirs time.Duration, target float64, lessIsBetter bool) string {
	r := ours.Seconds() / theirs.Seconds()
	verdict := "met"
	if r > target {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%-66s %5.2f×  (target ≤ %.2f×: %s)", what, r, target, verdict)
}

// peakMemory prints a peak memory line with its target: memory must not
// grow with the number of files.
func peakMemory(what string, peak int64) string {
	verdict := "met"
	if peak > 256<<20 {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%-66s %s  (target < 256 MiB: %s)", what, units.FormatBytes(peak), verdict)
}

func numCPU() int {
	n := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(b), "processor\t:")
	}
	return max(n, 1)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// rusage returns a finished command's peak resident memory in bytes.
func rusage(c *exec.Cmd) (int64, bool) {
	if c.ProcessState == nil {
		return 0, false
	}
	ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}
