//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/units"
)

// placeSuite measures the commands that write verified files into place
// (restore, pull, copy) against rclone copy of the same objects from the
// same S3 server, in one run; with EKBENCH_BASELINE naming an editkit
// built from an earlier commit, that build is measured alongside, so a
// change to the placement path shows as a ratio, not as a guess.
func (b *bench) placeSuite() error {
	srv, err := b.startS3()
	if err != nil {
		return err
	}
	defer srv.stop()
	state := filepath.Join(b.work, "place-state")
	os.RemoveAll(state)
	env := srv.env(state)
	tree, err := b.tree("media", samplemedia.Options{Seed: 1, TotalBytes: b.size})
	if err != nil {
		return err
	}
	builds := []struct{ name, bin string }{{"editkit", b.editkit}}
	if base := os.Getenv("EKBENCH_BASELINE"); base != "" {
		builds = append(builds, struct{ name, bin string }{"baseline", base})
	}
	fmt.Printf("\nplacement: restore, pull and copy (%s tree) vs rclone copy from the same S3 server\n", units.FormatBytes(b.size))
	hub := "s3://" + srv.bucket
	if _, _, err := b.runEnv("(editkit backup of the tree)", env, b.editkit, "backup", "--quiet", "--hub", hub+"/rs", "--set", "bench", tree); err != nil {
		return err
	}
	mxf := filepath.Join(tree, "Avid MediaFiles", "MXF", "1")
	if _, _, err := b.runEnv("(editkit push of MXF/1)", env, b.editkit, "push", "--quiet", "--hub", hub+"/pull", "--dest-path", "Avid MediaFiles/MXF/1", mxf); err != nil {
		return err
	}
	out := filepath.Join(b.work, "place-out")
	times := map[string][]time.Duration{}
	run := func(key string, argv ...string) error {
		if err := b.fresh(out); err != nil {
			return err
		}
		t, _, err := b.runEnv(key, env, argv...)
		times[key] = append(times[key], t)
		return err
	}
	for r := 0; r < b.rounds; r++ {
		for _, bd := range builds {
			if err := run(bd.name+" restore", bd.bin, "restore", "--quiet", "--hub", hub+"/rs", "latest", "--to", out); err != nil {
				return err
			}
			if err := run(bd.name+" pull", bd.bin, "pull", "--quiet", "--hub", hub+"/pull", out); err != nil {
				return err
			}
			if err := run(bd.name+" copy", bd.bin, "copy", "--quiet", tree, out); err != nil {
				return err
			}
		}
		if err := run("rclone restore", "rclone", "copy", "--transfers", "4", "hub:"+srv.bucket+"/rs/blobs", out); err != nil {
			return err
		}
		if err := run("rclone pull", "rclone", "copy", "--transfers", "3", "hub:"+srv.bucket+"/pull/blobs", out); err != nil {
			return err
		}
		if err := run("cp+sync copy", "sh", "-c", `cp -r "$0"/. "$1" && sync`, tree, out); err != nil {
			return err
		}
	}
	fmt.Printf("\nplacement ratios (median of %d; below 1 means the left one is faster):\n", b.rounds)
	line := func(what, a, c string) {
		ta, tc := median(times[a]), median(times[c])
		fmt.Printf("  %-50s %5.2f×  (%s vs %s)\n", what, ta.Seconds()/tc.Seconds(), ta.Round(10*time.Millisecond), tc.Round(10*time.Millisecond))
	}
	for _, bd := range builds {
		line(bd.name+" restore ÷ rclone copy of the same blobs", bd.name+" restore", "rclone restore")
		line(bd.name+" pull ÷ rclone copy of the same blobs", bd.name+" pull", "rclone pull")
		line(bd.name+" copy (verified) ÷ cp -r + sync", bd.name+" copy", "cp+sync copy")
	}
	if len(builds) > 1 {
		for _, op := range []string{"restore", "pull", "copy"} {
			line("editkit "+op+" ÷ baseline "+op, "editkit "+op, "baseline "+op)
		}
	}
	return nil
}
