//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/units"
)

// s3server is a versitygw on 127.0.0.1 for the hub benchmarks.
type s3server struct {
	cmd      *exec.Cmd
	endpoint string
	dir      string
	bucket   string
}

const benchKey, benchSecret = "EKBENCHACCESSKEY", "ekbench-secret-key"

func (b *bench) startS3() (*s3server, error) {
	bin, err := s3test.FindBinary()
	if err != nil {
		return nil, fmt.Errorf("%v (%s)", err, s3test.InstallHint)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &s3server{endpoint: "http://" + addr, dir: filepath.Join(b.work, "s3"), bucket: "bench"}
	os.RemoveAll(s.dir)
	if err := os.MkdirAll(filepath.Join(s.dir, s.bucket), 0o755); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "--access", benchKey, "--secret", benchSecret, "--port", addr, "posix", s.dir)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("versitygw did not start on %s", addr)
}

func (s *s3server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// env is the environment editkit and rclone need to reach the server.
func (s *s3server) env(state string) []string {
	var out []string
	for _, kv := range os.Environ() {
		// rclone 1.60 refuses to start with AWS_CA_BUNDLE set; plain http here.
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return append(out,
		"AWS_ACCESS_KEY_ID="+benchKey, "AWS_SECRET_ACCESS_KEY="+benchSecret, "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3="+s.endpoint, "AWS_EC2_METADATA_DISABLED=true",
		"EDITKIT_STATE_DIR="+state,
		"RCLONE_CONFIG_HUB_TYPE=s3", "RCLONE_CONFIG_HUB_PROVIDER=Other", "RCLONE_CONFIG_HUB_ACCESS_KEY_ID="+benchKey,
		"RCLONE_CONFIG_HUB_SECRET_ACCESS_KEY="+benchSecret, "RCLONE_CONFIG_HUB_ENDPOINT="+s.endpoint,
		"RCLONE_CONFIG_HUB_REGION=us-east-1", "RCLONE_CONFIG_HUB_FORCE_PATH_STYLE=true",
	)
}

// objectBytes sums the sizes of the objects under a prefix of the bucket.
func (s *s3server) objectBytes(prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	root := filepath.Join(s.dir, s.bucket, prefix)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".sgwtmp") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			fi, _ := d.Info()
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = fi.Size()
		}
		return nil
	})
	return out, err
}

// holdsBlobData reports whether a hub object (key relative to the hub)
// holds blob bytes: a blob stored on its own, or a pack of small ones.
// Everything else (snapshots, the pack index, events) is bookkeeping.
func holdsBlobData(key string) bool {
	return contenthub.IsBlobKey(key) || contenthub.IsPackKey(key)
}

// runEnv runs a command with an environment and records it.
func (b *bench) runEnv(name string, env []string, argv ...string) (time.Duration, int64, error) {
	start := time.Now()
	c := exec.CommandContext(b.ctx, argv[0], argv[1:]...)
	c.Env = env
	out, err := c.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	var peak int64
	if ru, ok := rusage(c); ok {
		peak = ru
	}
	fmt.Printf("  %-58s %9s  peak %s\n", name, took.Round(10*time.Millisecond), units.FormatBytes(peak))
	return took, peak, nil
}

// hubSuite races editkit backup and pull against rclone copy to the same
// S3 server, measures the nightly delta, a no-change backup of a large
// tree, and reading a 50 000-event catalog.
func (b *bench) hubSuite() error {
	srv, err := b.startS3()
	if err != nil {
		return err
	}
	defer srv.stop()
	state := filepath.Join(b.work, "hub-state")
	os.RemoveAll(state)
	env := srv.env(state)
	q := func(s string) string { return s }
	fmt.Printf("\nhub: editkit vs rclone copy to the same S3 server (versitygw on 127.0.0.1)\n")

	small := filepath.Join(b.work, "hub-small")
	if err := b.smallProject(small, 4000); err != nil {
		return err
	}
	large, err := b.tree("media", samplemedia.Options{Seed: 1, TotalBytes: b.size})
	if err != nil {
		return err
	}
	type pair struct{ ek, rc time.Duration }
	results := map[string]pair{}
	for _, c := range []struct{ name, dir string }{{"many small project files (4 000 bins, 10–200 KB)", small}, {"media tree (" + units.FormatBytes(b.size) + ", a few large files)", large}} {
		tag := fmt.Sprintf("t%d", len(results))
		b.dropCaches()
		ek, _, err := b.runEnv("editkit backup: "+c.name, env, b.editkit, "backup", "--quiet", "--hub", "s3://"+srv.bucket+"/ek-"+tag, "--set", "bench", q(c.dir))
		if err != nil {
			return err
		}
		b.dropCaches()
		rc, _, err := b.runEnv("rclone copy: "+c.name, env, "rclone", "copy", "--s3-upload-concurrency", "4", "--transfers", "4", c.dir, "hub:"+srv.bucket+"/rc-"+tag)
		if err != nil {
			return err
		}
		results[c.name] = pair{ek, rc}
	}

	// The nightly delta: change 1% of the small files and back up again.
	before, _ := srv.objectBytes("ek-t0")
	changed, err := touchSome(small, 100)
	if err != nil {
		return err
	}
	var res struct {
		Uploaded int64 `json:"uploaded_bytes"`
	}
	c := exec.Command(b.editkit, "backup", "--json", "--hub", "s3://"+srv.bucket+"/ek-t0", "--set", "bench", small)
	c.Env = env
	out, err := c.Output()
	if err != nil {
		return fmt.Errorf("delta backup: %v", err)
	}
	json.Unmarshal(out, &res)
	after, _ := srv.objectBytes("ek-t0")
	var newBytes, snapBytes int64
	for k, n := range after {
		if _, ok := before[k]; !ok {
			newBytes += n
			if !holdsBlobData(k) {
				snapBytes += n
			}
		}
	}
	blobBytes := newBytes - snapBytes

	// A no-change backup of a large tree of small files.
	many, err := b.tree("many", samplemedia.Options{Seed: 1, ManyFiles: b.many})
	if err != nil {
		return err
	}
	if _, _, err := b.runEnv(fmt.Sprintf("editkit backup, %d files, first", b.many), env, b.editkit, "backup", "--quiet", "--hub", "s3://"+srv.bucket+"/ek-many", "--set", "many", many); err != nil {
		return err
	}
	noChange, peak, err := b.runEnv(fmt.Sprintf("editkit backup, %d files, nothing changed", b.many), env, b.editkit, "backup", "--quiet", "--hub", "s3://"+srv.bucket+"/ek-many", "--set", "many", many)
	if err != nil {
		return err
	}

	// Pull: push the media tree's MXF files, then pull them onto an empty
	// drive, against rclone copying the same objects.
	mxf := filepath.Join(large, "Avid MediaFiles", "MXF", "1")
	if _, _, err := b.runEnv("(editkit push of MXF/1)", env, b.editkit, "push", "--quiet", "--hub", "s3://"+srv.bucket+"/pull", "--dest-path", "Avid MediaFiles/MXF/1", mxf); err != nil {
		return err
	}
	drive := filepath.Join(b.work, "pull-drive")
	rdest := filepath.Join(b.work, "pull-rclone")
	b.fresh(drive, rdest)
	pullT, _, err := b.runEnv("editkit pull (verified, onto an empty drive)", env, b.editkit, "pull", "--quiet", "--hub", "s3://"+srv.bucket+"/pull", drive)
	if err != nil {
		return err
	}
	b.dropCaches()
	rcT, _, err := b.runEnv("rclone copy of the same blobs", env, "rclone", "copy", "--transfers", "3", "hub:"+srv.bucket+"/pull/blobs", rdest)
	if err != nil {
		return err
	}
	b.fresh(drive, rdest)

	// Reading the catalog after 50 000 events.
	catT, err := catalogRead(b.ctx, filepath.Join(b.work, "catalog-hub"))
	if err != nil {
		return err
	}

	fmt.Printf("\nhub ratios (editkit ÷ rclone, same run; below 1 means editkit is faster):\n")
	for name, p := range results {
		fmt.Printf("  %-66s %5.2f×  (%s vs %s)\n", "backup vs rclone copy, "+name, p.ek.Seconds()/p.rc.Seconds(), p.ek.Round(10*time.Millisecond), p.rc.Round(10*time.Millisecond))
	}
	limit := float64(changed)*1.02 + float64(snapBytes)
	verdict := "met"
	if float64(newBytes) > limit {
		verdict = "MISSED"
	}
	fmt.Printf("  %-66s %s of blobs + %s snapshot and index for %s changed  (target ≤ 1.02× changed + snapshot and index: %s)\n",
		"nightly delta after 1% of files changed", units.FormatBytes(blobBytes), units.FormatBytes(snapBytes), units.FormatBytes(changed), verdict)
	verdict = "met"
	if noChange > 3*time.Second {
		verdict = "MISSED"
	}
	fmt.Printf("  %-66s %s  (target ≤ 3 s: %s), peak %s\n", fmt.Sprintf("no-change backup of %d files", b.many), noChange.Round(10*time.Millisecond), verdict, units.FormatBytes(peak))
	fmt.Printf("  %-66s %5.2f×  (%s vs %s)\n", "pull vs rclone copy of the same objects", pullT.Seconds()/rcT.Seconds(), pullT.Round(10*time.Millisecond), rcT.Round(10*time.Millisecond))
	verdict = "met"
	if catT > time.Second {
		verdict = "MISSED"
	}
	fmt.Printf("  %-66s %s  (target < 1 s: %s)\n", "catalog read, 50 000 events (from a checkpoint)", catT.Round(time.Millisecond), verdict)
	return nil
}

// smallProject writes n bin-like files of 10–200 KB in project folders.
func (b *bench) smallProject(dir string, n int) error {
	if _, err := os.Stat(filepath.Join(dir, ".done")); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	buf := make([]byte, 200<<10)
	for i := 0; i < n; i++ {
		size := 10<<10 + (i*7919)%(190<<10)
		for j := 0; j < size; j += 8 {
			v := uint64(i)*0x9e3779b97f4a7c15 + uint64(j)
			for k := 0; k < 8 && j+k < size; k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("Bins %02d", i%40), fmt.Sprintf("Reel %d v%03d.avb", i%6, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, buf[:size], 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644)
}

// touchSome rewrites every n-th file with new content (an editor's day of
// saving bins) and returns the bytes now different.
func touchSome(dir string, every int) (int64, error) {
	var changed int64
	i := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || d.Name() == ".done" {
			return err
		}
		i++
		if i%every != 0 {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data = append(data, []byte(fmt.Sprintf("saved %d", time.Now().UnixNano()))...)
		changed += int64(len(data))
		return os.WriteFile(p, data, 0o644)
	})
	return changed, err
}

// catalogRead builds a hub with 50 000 push events and times reading the
// catalog from its checkpoint, as status and pull do.
func catalogRead(ctx context.Context, dir string) (time.Duration, error) {
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	be, err := backend.OpenLocal(dir)
	if err != nil {
		return 0, err
	}
	h := contenthub.New(be)
	base := time.Now().Add(-time.Hour)
	n := 0
	for batch := 0; batch < 500; batch++ {
		var evs []event.Event
		for i := 0; i < 100; i++ {
			n++
			e := event.New(base, event.Pushed)
			e.Path, e.Hash, e.Size, e.Category = fmt.Sprintf("Stock/%06d.mov", n), fmt.Sprintf("%064x", n), int64(n), "stock"
			evs = append(evs, e)
		}
		if err := h.AppendEvents(ctx, contenthub.Batch{ID: event.NewID(time.Now()), Events: evs, Key: contenthub.NewEventKey(base.Add(time.Duration(batch) * time.Second))}); err != nil {
			return 0, err
		}
	}
	if _, _, err := catalog.Load(ctx, h, time.Now(), true); err != nil { // writes the checkpoint
		return 0, err
	}
	start := time.Now()
	s, _, err := catalog.Load(ctx, h, time.Now(), false)
	if err != nil || len(s.Items) != n {
		return 0, fmt.Errorf("catalog: %v (%d items)", err, len(s.Items))
	}
	return time.Since(start), nil
}
