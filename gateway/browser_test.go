package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
)

// ssePage opens two EventSources through the gateway, one that succeeds
// and one that fails in the middle, and writes what it received into the
// DOM once both are over, for --dump-dom to read.
const ssePage = `<!doctype html>
<html><head><title>sse</title></head><body><pre id="out">pending</pre><script>
const lines = [];
let open = 2;
function finish(es) {
  es.close();
  if (--open === 0) document.getElementById('out').textContent = lines.join('\n');
}
function watch(name, url) {
  const es = new EventSource(url);
  es.onmessage = (e) => lines.push(name + ' message ' + e.lastEventId + ' ' + e.data);
  es.addEventListener('end', () => { lines.push(name + ' end'); finish(es); });
  es.addEventListener('error', (e) => {
    // Our "error" event carries the Status; a connection error has no data.
    lines.push(name + ' error ' + (e.data || 'connection'));
    finish(es);
  });
}
watch('expand', '/v1/expand/hello?count=3');
watch('flood', '/v1/flood?count=5&payloadBytes=2&failAfter=1');
</script></body></html>`

// TestSSEInBrowser drives an SSE stream from headless Chromium's own
// EventSource: the page is served from the gateway's origin, and the test
// reads what the page received from the DOM Chromium dumps.
func TestSSEInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		testkit.SkipIntegration(t, "the browser suites (SSE in Chromium, the admin console)", "chromium is not installed: apt-get install -y chromium")
	}
	echo, _ := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "")+`
    rules:
      - selector: echo.v1.EchoService.Expand
        get: /v1/expand/{text}
      - selector: echo.v1.EchoService.Flood
        get: /v1/flood
`)
	// One origin for the page and the API: the page on /sse.html, every
	// other path through the gateway's own handler.
	mux := http.NewServeMux()
	mux.HandleFunc("/sse.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(ssePage))
	})
	mux.Handle("/", h.gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(profile, "profile"),
		"--virtual-time-budget=20000", "--dump-dom",
		fmt.Sprintf("http://%s/sse.html", ln.Addr()))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium did not finish: %s", stderr.String())
		}
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no output element in the dumped DOM:\n%s", out)
	}
	got := strings.Split(unspace(html.UnescapeString(string(m[1]))), "\n")
	t.Logf("the page received:\n%s", strings.Join(got, "\n"))
	want := []string{
		`expand message 0 {"message":"hello","index":0}`,
		`expand message 1 {"message":"hello","index":1}`,
		`expand message 2 {"message":"hello","index":2}`,
		`expand end`,
		`flood message 0 {"message":"xx","index":0}`,
		`flood error {"code":10,"message":"flood failed after 1 responses, as asked","details":[]}`,
	}
	// The two streams interleave as the network pleases; each in its order.
	for _, prefix := range []string{"expand ", "flood "} {
		var g, w []string
		for _, l := range got {
			if strings.HasPrefix(l, prefix) {
				g = append(g, l)
			}
		}
		for _, l := range want {
			if strings.HasPrefix(l, prefix) {
				w = append(w, l)
			}
		}
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("the page received\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
}
