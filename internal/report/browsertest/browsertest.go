// Package browsertest renders editkit's HTML pages in a real browser for
// tests: headless Chromium (Debian's chromium) loads a page from a file://
// URL with the network shut off, and the test reads the DOM it built and
// keeps a phone-sized screenshot.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/slowtest"
)

// Phone is the window the screenshot is taken at: a common phone's CSS
// pixels, portrait.
const Phone = "390,844"

// Page is a page as Chromium rendered it.
type Page struct {
	DOM        string // the serialised DOM after layout
	Text       string // the DOM's text, tags dropped and spaces collapsed
	Screenshot string // PNG at Phone size, under the test's temp dir
	// Width is how wide the page laid itself out in a Viewport-wide window
	// (the document's scroll width): wider means it scrolls sideways.
	Width, Viewport int
}

// Render loads the HTML file at path in headless Chromium and returns what
// it rendered. A missing chromium is slowtest.Missing. The screenshot is
// logged, and copied to $EDITKIT_ARTIFACTS when that is set.
func Render(t testing.TB, path string) Page {
	t.Helper()
	bin := chromium()
	if bin == "" {
		slowtest.Missing(t, "chromium (apt-get install chromium)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.ToSlash(abs)
	dir := t.TempDir()
	shot := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".png")
	dom := run(t, bin, dir, "--dump-dom", url)
	run(t, bin, dir, "--screenshot="+shot, "--window-size="+Phone, "--hide-scrollbars", url)
	width := measure(t, bin, dir, url)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no screenshot of %s: %v", path, err)
	}
	t.Logf("screenshot of %s (phone, %s): %s", filepath.Base(path), Phone, shot)
	if dst := os.Getenv("EDITKIT_ARTIFACTS"); dst != "" {
		keep(t, shot, filepath.Join(dst, sanitize(t.Name())+"_"+filepath.Base(shot)))
	}
	return Page{DOM: dom, Text: Text(dom), Screenshot: shot, Width: width, Viewport: phoneWidth}
}

const phoneWidth = 390

// measure lays the page out in a phone-wide frame of a harness page and
// reads back the document's scroll width. The page itself runs no script;
// the harness does, reading the framed document (file:// pages may read
// each other only with --allow-file-access-from-files).
func measure(t testing.TB, bin, dir, url string) int {
	t.Helper()
	harness := filepath.Join(dir, "measure.html")
	src := fmt.Sprintf(`<!doctype html><html><body style="margin:0">
<iframe id="f" src=%q style="width:%dpx;height:844px;border:0"></iframe>
<script>document.getElementById("f").onload = function () {
  var d = this.contentDocument.documentElement;
  document.body.setAttribute("data-width", String(d.scrollWidth));
};</script></body></html>`, url, phoneWidth)
	if err := os.WriteFile(harness, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := run(t, bin, dir, "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom", "file://"+filepath.ToSlash(harness))
	m := regexp.MustCompile(`data-width="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("could not measure the page's width in chromium:\n%s", dom)
	}
	w, _ := strconv.Atoi(m[1])
	return w
}

// Check renders the page at path and fails t unless it shows each of want
// as text, built no element from a file name (no <script>, no <img>: the
// pages have none of their own), and fits a phone's width.
func Check(t testing.TB, path string, want ...string) Page {
	t.Helper()
	page := Render(t, path)
	for _, w := range want {
		if !strings.Contains(page.Text, w) {
			t.Errorf("%s as rendered lacks %q:\n%s", filepath.Base(path), w, page.Text)
		}
	}
	if strings.Contains(page.DOM, "<script") || strings.Contains(page.DOM, "<img") {
		t.Errorf("%s: the browser built an element from a file name", filepath.Base(path))
	}
	if page.Width > page.Viewport {
		t.Errorf("%s is %dpx wide on a %dpx phone: it scrolls sideways", filepath.Base(path), page.Width, page.Viewport)
	}
	return page
}

// run starts chromium with a profile of its own under dir and every
// network request refused (a page that tried to load a font or an image
// would render without it).
func run(t testing.TB, bin, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
		"--disable-sync", "--no-default-browser-check", "--noerrdialogs",
		"--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--user-data-dir=" + filepath.Join(dir, "profile")}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Text is the text a reader sees in a DOM dump: style sheet and tags
// dropped, entities decoded, runs of white space (no-break spaces
// included) made one space.
func Text(dom string) string {
	if i, j := strings.Index(dom, "<style"), strings.Index(dom, "</style>"); i >= 0 && j > i {
		dom = dom[:i] + dom[j:]
	}
	var b strings.Builder
	in := false
	for _, r := range dom {
		switch {
		case r == '<':
			in = true
			b.WriteRune(' ')
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	s := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ", "\u00a0", " ", "&amp;", "&").Replace(b.String())
	return strings.Join(strings.Fields(s), " ")
}

func keep(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(to), 0o755)
	}
	if err == nil {
		err = os.WriteFile(to, data, 0o644)
	}
	if err != nil {
		t.Fatalf("keeping the screenshot in EDITKIT_ARTIFACTS: %v", err)
	}
	t.Logf("screenshot kept: %s", to)
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, name)
}
