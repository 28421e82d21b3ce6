//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// smallSuite races editkit against restic and cp on a tree of many small
// files (issue 12): first backup to a folder hub and to the S3 server,
// restore, copy with and without read-back onto a freshly made file
// system per run (freshDrive; and into a work-disk folder, for
// comparison). Each round runs every pair
// back to back (paired whole-process times, cold cache before each), and
// the ratio printed is the median of the rounds' ratios. It also counts
// the requests each backup makes to the S3 server, through a counting
// proxy in front of it.
func (b *bench) smallSuite() error {
	if _, err := exec.LookPath("restic"); err != nil {
		return fmt.Errorf("restic is missing: run .ci/install-deps")
	}
	const files, folders, size = 20_000, 100, 1536
	src := filepath.Join(b.work, "small-tree")
	if err := smallFiles(src, files, folders, size); err != nil {
		return err
	}
	srv, err := b.startS3()
	if err != nil {
		return err
	}
	defer srv.stop()
	proxy, err := startCountingProxy(srv.endpoint)
	if err != nil {
		return err
	}
	defer proxy.Close()
	state := filepath.Join(b.work, "small-state")
	os.RemoveAll(state)
	env := srv.env(state)
	// editkit and restic reach the server through the proxy, which counts.
	for i, kv := range env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_S3=") {
			env[i] = "AWS_ENDPOINT_URL_S3=" + proxy.url
		}
	}
	env = append(env, "RESTIC_PASSWORD=ekbench", "RESTIC_CACHE_DIR="+filepath.Join(b.work, "restic-cache"))
	fmt.Printf("\nsmall files: %d × %s in %d folders, editkit vs restic %s and cp, page cache dropped before each run\n",
		files, "1.5 KB", folders, resticVersion())

	dir := func(name string) string { return filepath.Join(b.work, "small-"+name) }
	r := &smallRun{b: b, env: env, proxy: proxy, bucket: srv.bucket, src: src,
		ekHub: dir("ekhub"), rsRepo: dir("restic"), ekTo: dir("ekrestore"), rsTo: dir("rsrestore"), dst: dir("dest"),
		samples: map[string][]smallSample{}, requests: map[string]int64{}}
	defer func() {
		r.unmountDrive()
		for _, d := range []string{r.ekHub, r.rsRepo, r.ekTo, r.rsTo, r.dst} {
			os.RemoveAll(d)
		}
	}()
	for round := 1; round <= b.rounds; round++ {
		fmt.Printf(" round %d of %d\n", round, b.rounds)
		if err := r.round(fmt.Sprintf("r%d", round)); err != nil {
			return err
		}
	}
	r.report()
	return nil
}

// smallRun is the state of one smallSuite: where each side writes, and
// what was measured.
type smallRun struct {
	b                              *bench
	env                            []string
	proxy                          *countingProxy
	bucket, src                    string
	ekHub, rsRepo, ekTo, rsTo, dst string
	samples                        map[string][]smallSample // by pair
	requests                       map[string]int64         // by command, last round
	resticS3Err                    error                    // restic cannot use the S3 server
	mounted                        bool                     // dst is freshDrive's file system
	driveErr                       error                    // freshDrive cannot make one here
	hubObjects                     int                      // in the folder hub after the first backup
}

// smallSample is one round's paired times.
type smallSample struct{ ek, other time.Duration }

// round runs every pair once.
func (r *smallRun) round(tag string) error {
	q, b := shellQuote, r.b
	b3 := "cd " + q(r.dst) + " && find . -type f ! -path './.editkit/*' ! -path './ascmhl/*' -print0 | xargs -0 b3sum > /dev/null"
	drop := "sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true"
	empty := func(dirs ...string) func() error { return func() error { return b.fresh(dirs...) } }

	// First backup, folder hub vs local repository.
	if err := r.pair("first backup, folder hub vs restic to a local repository",
		r.timed("editkit backup to a folder hub", empty(r.ekHub), b.editkit, "backup", "--quiet", "--hub", r.ekHub, "--set", "small", r.src),
		r.timed("restic backup to a local repository", r.resticInit(r.rsRepo), "restic", "backup", "--quiet", "--repo", r.rsRepo, r.src),
	); err != nil {
		return err
	}
	if objs, err := countFiles(r.ekHub); err == nil {
		r.hubObjects = objs
	}
	// First backup to the S3 server.
	rsS3 := "s3:" + r.proxy.url + "/" + r.bucket + "/restic-" + tag
	ek := r.counted("editkit backup to the S3 server", nil, b.editkit, "backup", "--quiet", "--hub", "s3://"+r.bucket+"/ek-"+tag, "--set", "small", r.src)
	if r.resticS3Err == nil {
		rs := r.counted("restic backup to the S3 server", r.resticInit(rsS3), "restic", "backup", "--quiet", "--repo", rsS3, r.src)
		if err := r.pair("first backup, S3 server vs restic to the same server", ek, rs); err != nil {
			r.resticS3Err = err
		}
	}
	if r.resticS3Err != nil {
		if _, err := ek(); err != nil {
			return err
		}
	}
	// Restore of that snapshot.
	if err := r.pair("restore vs restic restore (from the folder hub / local repository)",
		r.timed("editkit restore", empty(r.ekTo), b.editkit, "restore", "latest", "--quiet", "--hub", r.ekHub, "--to", r.ekTo),
		r.timed("restic restore", empty(r.rsTo), "restic", "restore", "latest", "--repo", r.rsRepo, "--target", r.rsTo),
	); err != nil {
		return err
	}
	// Copy to one drive: a freshly made file system per run (see
	// freshDrive), and, for comparison, a folder on the work disk.
	drive := func() error { return r.freshDrive() }
	if err := r.pair("copy --verify=none vs cp -r + sync",
		r.timed("editkit copy --verify=none + sync", drive, "sh", "-c", q(b.editkit)+" copy --quiet --verify=none "+q(r.src)+" "+q(r.dst)+" && sync"),
		r.timed("cp -r + sync", drive, "sh", "-c", "cp -r "+q(r.src)+"/. "+q(r.dst)+"/ && sync"),
	); err != nil {
		return err
	}
	if err := r.pair("verified copy vs cp -r + sync + cold b3sum of the copy",
		r.timed("editkit copy (verified) + sync", drive, "sh", "-c", q(b.editkit)+" copy --quiet "+q(r.src)+" "+q(r.dst)+" && sync"),
		r.timed("cp -r + sync + cold b3sum of the copy", drive, "sh", "-c", "cp -r "+q(r.src)+"/. "+q(r.dst)+"/ && sync && "+drop+" && "+b3),
	); err != nil {
		return err
	}
	r.unmountDrive()
	return r.pair(folderCopy,
		r.timed("editkit copy --verify=none + sync (work-disk folder)", empty(r.dst), "sh", "-c", q(b.editkit)+" copy --quiet --verify=none "+q(r.src)+" "+q(r.dst)+" && sync"),
		r.timed("cp -r + sync (work-disk folder)", empty(r.dst), "sh", "-c", "cp -r "+q(r.src)+"/. "+q(r.dst)+"/ && sync"),
	)
}

// folderCopy is the copy pair run into a folder of the work disk rather
// than onto a file system of its own (printed, no target).
const folderCopy = "copy --verify=none vs cp -r + sync, into a work-disk folder"

// freshDrive makes r.dst a freshly made ext4 file system (journalled, as
// mkfs.ext4 makes it), on a sparse image beside it, loop-mounted: the
// destination of a copy is a drive, a file system of its own. Into a
// folder of the work disk each run pays for what the runs before it
// deleted (this machine's root file system is ext4 without a journal,
// where creating files after a big delete scans the recently deleted
// inodes: up to half of a run's CPU samples, for cp as for editkit), and
// which run pays changes from round to round. Where this machine cannot
// make one (not root, no mkfs.ext4, no loop device) the destination is an
// emptied folder of the work disk, and the report says so.
func (r *smallRun) freshDrive() error {
	r.unmountDrive()
	if r.driveErr != nil {
		return r.b.fresh(r.dst)
	}
	img := r.dst + ".img"
	err := r.b.fresh(r.dst)
	if err == nil {
		os.Remove(img)
		err = run("truncate", "-s", "1G", img)
	}
	if err == nil {
		err = run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", img)
	}
	if err == nil {
		err = run("mount", "-o", "loop", img, r.dst)
	}
	if err != nil {
		r.driveErr = err
		os.Remove(img)
		fmt.Printf("  (no fresh file system for the copies: %v; copying into an emptied folder of the work disk)\n", err)
		return r.b.fresh(r.dst)
	}
	r.mounted = true
	return r.b.dropCaches()
}

// unmountDrive unmounts and removes the file system freshDrive made.
func (r *smallRun) unmountDrive() {
	if !r.mounted {
		return
	}
	if err := run("umount", r.dst); err != nil {
		fmt.Printf("  unmounting %s: %v\n", r.dst, err)
		return
	}
	r.mounted = false
	os.Remove(r.dst + ".img")
}

// run runs a setup command, its output kept for the error.
func run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pair runs editkit's side, then the other, and keeps both times.
func (r *smallRun) pair(what string, ek, other func() (time.Duration, error)) error {
	e, err := ek()
	if err != nil {
		return err
	}
	o, err := other()
	if err != nil {
		return err
	}
	r.samples[what] = append(r.samples[what], smallSample{e, o})
	return nil
}

// timed runs prep, drops the page cache, then times argv.
func (r *smallRun) timed(name string, prep func() error, argv ...string) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		if prep != nil {
			if err := prep(); err != nil {
				return 0, err
			}
		}
		if err := r.b.dropCaches(); err != nil {
			return 0, err
		}
		t, _, err := r.b.runEnv(name, r.env, argv...)
		return t, err
	}
}

// counted is timed, counting the requests of the command alone (not of prep).
func (r *smallRun) counted(name string, prep func() error, argv ...string) func() (time.Duration, error) {
	f := r.timed(name, func() error {
		if prep != nil {
			if err := prep(); err != nil {
				return err
			}
		}
		r.proxy.requests.Store(0)
		return nil
	}, argv...)
	return func() (time.Duration, error) {
		t, err := f()
		r.requests[name] = r.proxy.requests.Load()
		return t, err
	}
}

// resticInit makes an empty restic repository at repo.
func (r *smallRun) resticInit(repo string) func() error {
	return func() error {
		os.RemoveAll(repo)
		c := exec.CommandContext(r.b.ctx, "restic", "init", "--repo", repo)
		c.Env = r.env
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("restic init %s: %v\n%s", repo, err, out)
		}
		return nil
	}
}

// report prints each pair's median ratio against its target, and the
// requests counted.
func (r *smallRun) report() {
	fmt.Printf("\nsmall-file ratios (editkit ÷ other; median of %d paired rounds; below 1 means editkit is faster):\n", r.b.rounds)
	targets := []struct {
		what   string
		target float64
	}{
		{"first backup, folder hub vs restic to a local repository", 1.0},
		{"first backup, S3 server vs restic to the same server", 1.0},
		{"restore vs restic restore (from the folder hub / local repository)", 1.0},
		{"copy --verify=none vs cp -r + sync", 1.1},
		{"verified copy vs cp -r + sync + cold b3sum of the copy", 1.1},
		{folderCopy, 0},
	}
	dest := "a freshly made ext4 file system per run (loop-mounted image on the work disk)"
	if r.driveErr != nil {
		dest = "an emptied folder of the work disk (" + r.driveErr.Error() + ")"
	}
	fmt.Printf("  copies were made onto %s\n", dest)
	for _, t := range targets {
		s := r.samples[t.what]
		if len(s) == 0 {
			fmt.Printf("  %-66s not measured: %v\n", t.what, r.resticS3Err)
			continue
		}
		var ratios, eks, others []time.Duration
		for _, p := range s {
			ratios = append(ratios, time.Duration(float64(time.Second)*p.ek.Seconds()/p.other.Seconds()))
			eks, others = append(eks, p.ek), append(others, p.other)
		}
		ratio := median(ratios).Seconds()
		if t.target == 0 {
			fmt.Printf("  %-66s %5.2f×  (no target; medians %s vs %s)\n", t.what, ratio,
				median(eks).Round(10*time.Millisecond), median(others).Round(10*time.Millisecond))
			continue
		}
		verdict := "met"
		if ratio > t.target {
			verdict = "MISSED"
		}
		fmt.Printf("  %-66s %5.2f×  (target ≤ %.2f×: %s; medians %s vs %s)\n", t.what, ratio, t.target, verdict,
			median(eks).Round(10*time.Millisecond), median(others).Round(10*time.Millisecond))
	}
	keys := make([]string, 0, len(r.requests))
	for k := range r.requests {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("  %-66s %d requests (counted by a proxy in front of the server, last round)\n", k, r.requests[k])
	}
	fmt.Printf("  %-66s %d objects written (listed)\n", "editkit backup to a folder hub", r.hubObjects)
}

// smallFiles writes (once) n files of size bytes, each different, spread
// over folders.
func smallFiles(dir string, n, folders, size int) error {
	marker := dir + ".done"
	want := fmt.Sprintf("%d×%d in %d", n, size, folders)
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		return nil
	}
	os.RemoveAll(dir)
	fmt.Printf("generating %s …\n", dir)
	buf := make([]byte, size)
	for i := range n {
		for j := 0; j < size; j += 8 {
			v := uint64(i+1)*0x9e3779b97f4a7c15 ^ uint64(j)*0xbf58476d1ce4e5b9
			for k := 0; k < 8 && j+k < size; k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("Bins %03d", i%folders), fmt.Sprintf("bin %05d.avb", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(marker, []byte(want), 0o644)
}

// countFiles counts the regular files under dir.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
}

func resticVersion() string {
	out, err := exec.Command("restic", "version").Output()
	if err != nil {
		return "(version unknown)"
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return "(version unknown)"
	}
	return f[1]
}

// countingProxy forwards HTTP requests to the S3 server, counting them.
type countingProxy struct {
	url      string
	srv      *http.Server
	requests atomic.Int64
}

func startCountingProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{url: "http://" + l.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(u)
	// The Host header is signed by the client: it reaches the server as
	// the client sent it.
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(l)
	return p, nil
}

func (p *countingProxy) Close() { p.srv.Close() }
