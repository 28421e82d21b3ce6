package catalog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// corruptOnce damages the first download of a blob, as a flaky connection
// or proxy might.
type corruptOnce struct {
	backend.Backend
	done atomic.Bool
}

func (c *corruptOnce) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rc, err := c.Backend.Get(ctx, key, off, n)
	if err != nil || !strings.HasPrefix(key, "blobs/") || c.done.Swap(true) {
		return rc, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	data[len(data)/2] ^= 0xff
	return io.NopCloser(bytes.NewReader(data)), nil
}

// A download whose hash is wrong is discarded and fetched again.
func TestPullRefetchesABadDownload(t *testing.T) {
	ctx := context.Background()
	local, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(local)
	src := filepath.Join(t.TempDir(), "shot.mov")
	data := bytes.Repeat([]byte("frame "), 100000)
	os.WriteFile(src, data, 0o644)
	res, err := Push(ctx, h, PushOptions{Paths: []string{src}, DestPath: "VFX", Category: "vfx", Env: run.Env{User: "ae"}})
	if err != nil || res.Pushed != 1 {
		t.Fatalf("push: %v %+v", err, res)
	}
	flaky := contenthub.New(&corruptOnce{Backend: local})
	drive := t.TempDir()
	pr, err := Pull(ctx, flaky, PullOptions{Drive: drive, Env: run.Env{User: "ed"}})
	if err != nil || pr.Pulled != 1 {
		t.Fatalf("pull: %v %+v", err, pr)
	}
	got, _ := os.ReadFile(filepath.Join(drive, "VFX", "shot.mov"))
	if !bytes.Equal(got, data) {
		t.Fatal("pulled content differs")
	}
}

func TestCheckCatalogPath(t *testing.T) {
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b", ".editkit/drive.json", "ascmhl/x.mhl", "Media/CON.wav", "Media/a:b.wav", "Media/trailing. "} {
		if checkCatalogPath(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"Avid MediaFiles/MXF/7/VFX_010.mxf", "Music/Café.wav", "Archive/Élan/clip.mov"} {
		if why := checkCatalogPath(good); why != "" {
			t.Errorf("%q refused: %s", good, why)
		}
	}
}

// Several downloads at once share the drive's manifest (run with -race).
func TestPullManyAtOnce(t *testing.T) {
	ctx := context.Background()
	local, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(local)
	dir := t.TempDir()
	var paths []string
	for i := 0; i < 40; i++ {
		p := filepath.Join(dir, fmt.Sprintf("SFX_%02d.wav", i))
		os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 5000+i), 0o644)
		paths = append(paths, p)
	}
	res, err := Push(ctx, h, PushOptions{Paths: paths, DestPath: "SFX", Category: "sfx"})
	if err != nil || res.Pushed != 40 {
		t.Fatalf("push: %v %+v", err, res)
	}
	drive := t.TempDir()
	pr, err := Pull(ctx, h, PullOptions{Drive: drive, Jobs: 8})
	if err != nil || pr.Pulled != 40 || !pr.OK() {
		t.Fatalf("pull: %v %+v", err, pr)
	}
	pr, err = Pull(ctx, h, PullOptions{Drive: drive, Jobs: 8})
	if err != nil || pr.Present != 40 {
		t.Fatalf("second pull: %v, %d present", err, pr.Present)
	}
}
