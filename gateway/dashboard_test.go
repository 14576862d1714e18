package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
)

// artifactDir is where tests leave files for people to look at:
// $REFRACT_TEST_ARTIFACTS, else .artifacts at the repository's root
// (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("REFRACT_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", ".artifacts") // tests run in gateway/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser loads the admin dashboard in headless Chromium
// against a gateway with two upstreams and some traffic, checks what the
// rendered page shows, and saves a screenshot of it.
func TestDashboardInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		testkit.SkipIntegration(t, "the browser suites (SSE in Chromium, the admin console)", "chromium is not installed: apt-get install -y chromium")
	}
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
  - name: echo
    static: [%q]
`, lib.Addr, echo.Addr))
	for range 3 {
		h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	}
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200)
	h.do(t, "GET", "/nowhere", "").expect(t, 404)
	eventually(t, 5*time.Second, "the requests counted", func() bool { return h.srv.Metrics().Stats().Requests.Total == 5 })

	chrome := func(ctx context.Context, args ...string) []byte {
		t.Helper()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(t.TempDir(), "profile"),
			"--virtual-time-budget=5000"}
		cmd := exec.CommandContext(ctx, chromium, append(append(base, args...), h.admin+"/")...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("chromium did not finish: %s", stderr.String())
			}
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		return out
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	dom := chrome(ctx, "--dump-dom")
	if !bytes.Contains(dom, []byte(`data-ready="true"`)) {
		t.Fatalf("the page never rendered data:\n%s", dom)
	}
	text := html.UnescapeString(string(dom))
	cell := func(class string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td class="`+class+`">([^<]*)</td>`).FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
		return out
	}
	hashes := map[string]string{}
	for _, s := range h.gw.Cache().Stats() {
		hashes[s.Upstream] = s.Hash
	}
	if got := cell("name"); strings.Join(got, ",") != "library,echo" {
		t.Errorf("upstreams shown: %v", got)
	}
	if got := cell("hash"); strings.Join(got, ",") != hashes["library"]+","+hashes["echo"] {
		t.Errorf("hashes shown %v, want the cache's %v", got, hashes)
	}
	for _, want := range []string{
		`<div class="endpoint">` + lib.Addr + `</div>`,
		`<div class="endpoint">` + echo.Addr + `</div>`,
		`<td class="route">/v1/{name=shelves/*/books/*}</td>`,
		`<td class="route">/echo.v1.EchoService/Echo</td>`,
		`<td class="route">unmatched</td>`,
		`<dd id="total">5</dd>`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %s", want)
		}
	}
	// The books route's row: its three requests.
	row := regexp.MustCompile(`<td class="route">/v1/\{name=shelves/\*/books/\*\}</td><td>library</td><td class="grpc">library.v1.LibraryService.GetBook</td><td class="num">(\d+)</td>`).FindStringSubmatch(text)
	if row == nil || row[1] != "3" {
		t.Errorf("GetBook row: %v", row)
	}

	shot, err := filepath.Abs(filepath.Join(artifactDir(t), "dashboard.png"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(shot)
	chrome(ctx, "--screenshot="+shot, "--window-size=1280,900")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
		t.Fatalf("the screenshot is not a PNG of a page (%d bytes)", len(png))
	}
	t.Logf("dashboard screenshot: %s", shot)
}
