package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/gateway/telemetry"
)

// The console's browser tests drive Debian's chromium through the
// DevTools protocol (chromedp) against a real gateway and real backends.
// Screenshots go to .artifacts/; with REFRACT_UPDATE_DOCS_IMAGES=1 they
// also replace docs/images/console-*.png (see docs/console.md).

// browser is one headless chromium tab and what its page reported.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string // exceptions, console.error calls, browser errors
}

// newBrowser starts chromium, or skips (fails under CI=true) without it.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
		}
		t.Skip("SKIPPED LOUDLY: chromium is not installed (apt-get install -y chromium); the console browser tests did not run")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")), chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-quic", true))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancel(); acancel() })
	b.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

// listen keeps what the page reports as an error: exceptions,
// console.error, and the browser's own errors (CSP violations, failed
// loads).
func (b *browser) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			msg = "browser " + string(e.Entry.Source) + ": " + e.Entry.Text + " " + e.Entry.URL
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.errs = append(b.errs, msg)
		b.mu.Unlock()
	}
}

// run runs actions with a generous bound: it only stops a hung test, it
// does not measure speed.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\nthe page shows:\n%.3000s\nits errors: %v", what, err, body, b.errors())
	}
}

func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// noErrors fails when the page logged an error other than the expected
// ones (substrings).
func (b *browser) noErrors(t *testing.T, expected ...string) {
	t.Helper()
next:
	for _, e := range b.errors() {
		for _, x := range expected {
			if strings.Contains(e, x) {
				continue next
			}
		}
		t.Errorf("the page logged an error: %s", e)
	}
}

// screenshot saves the window (1440×1000) as name.png in the artifacts, and in
// docs/images when REFRACT_UPDATE_DOCS_IMAGES=1.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := value(t, b, "screenshot "+name, chromedp.CaptureScreenshot()) // the window: what one sees first
	if len(png) < 10000 || string(png[:8]) != "\x89PNG\r\n\x1a\n" {
		t.Fatalf("screenshot %s is not a PNG of a page (%d bytes)", name, len(png))
	}
	dirs := []string{artifactDir(t)}
	if os.Getenv("REFRACT_UPDATE_DOCS_IMAGES") == "1" {
		dirs = append(dirs, filepath.Join("..", "docs", "images"))
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}

// text is the text of the first element sel matches.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return value(t, b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// value runs one action and returns its value.
func value[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v\nits errors: %v", what, err, b.errors())
	}
	return v
}

// visible waits until an element matches the CSS selector sel.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// background sends GETs to url until the returned func is called.
func background(url string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

func withHistoryStep(step time.Duration) serverOption {
	return func(o *server.Options) { o.History = telemetry.HistoryOptions{Step: step} }
}

// TestConsoleUpstreamDown is what an SRE sees when one upstream of three
// dies and comes back: the overview lists it first, red, with the reason
// and since when, while the other two stay green; the upstreams view
// shows the endpoint in TRANSIENT_FAILURE with the dial error and its
// time; after a restart on the same address the endpoint is READY again,
// since a later time, with the last error kept, and the overview is clear.
func TestConsoleUpstreamDown(t *testing.T) {
	lib := startLibrary(t)
	accounts, err := examples.StartAccounts("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(accounts.Stop)
	echo := startEcho(t, "127.0.0.1:0")
	echoAddr := echo.Addr
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
  - name: accounts
    static: [%q]
  - name: echo
    static: [%q]
`, lib.Addr, accounts.Addr, echoAddr), withHistoryStep(time.Second))
	traffic := func(n int) {
		for range n {
			h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
			h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`)
		}
	}
	traffic(5)

	b := newBrowser(t)
	b.run(t, "open the console", chromedp.Navigate(h.admin+"/"),
		visible(`body[data-ready="true"]`),
		visible(`.allclear`))
	if got := b.text(t, "#up-summary tbody"); !strings.Contains(got, "library") || !strings.Contains(got, "accounts") || !strings.Contains(got, "echo") {
		t.Fatalf("the overview's upstreams: %q", got)
	}

	// The echo backend dies.
	echo.Stop()
	for range 3 {
		h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 503)
	}
	traffic(0)
	b.run(t, "the dead upstream turns red on the overview",
		visible(`li.problem.critical[data-subject="echo"]`),
		visible(`#up-summary tr[data-upstream="echo"] .pill.down`))
	prob := b.text(t, `li.problem.critical[data-subject="echo"]`)
	for _, want := range []string{"echo", "every endpoint is down (1 of 1)", echoAddr, "since"} {
		if !strings.Contains(prob, want) {
			t.Errorf("the problem reads %q: no %q", prob, want)
		}
	}
	if !strings.Contains(prob, "connection refused") && !strings.Contains(prob, "connection lost") {
		t.Errorf("the problem gives no reason: %q", prob)
	}
	for _, up := range []string{"library", "accounts"} {
		n := value(t, b, "the others stay green", chromedp.Evaluate[int](
			`document.querySelectorAll('#up-summary tr[data-upstream="`+up+`"] .pill.up').length`))
		if n != 1 {
			t.Errorf("upstream %s is not shown up while echo is down", up)
		}
	}
	if n := b.text(t, `#up-summary tr[data-upstream="echo"] td.five`); n != "3" {
		t.Errorf("echo's 5xx read %q, want 3", n)
	}
	// Some traffic for the sparklines, then the picture.
	stop := background(h.base + "/v1/shelves/1/books/1")
	b.run(t, "a few history points", chromedp.Poll[chromedp.Void](`document.querySelectorAll('#tile-p99 svg path').length > 0`))
	b.screenshot(t, "console-overview-upstream-down")
	stop()

	b.run(t, "the upstreams view shows the endpoint failing",
		chromedp.Navigate(h.admin+"/#upstreams"),
		visible(`article[data-upstream="echo"][data-state="down"] tr[data-state="TRANSIENT_FAILURE"]`))
	row := b.text(t, `article[data-upstream="echo"] tr[data-endpoint="`+echoAddr+`"]`)
	if !strings.Contains(row, "TRANSIENT_FAILURE") || !strings.Contains(row, "ago") ||
		!(strings.Contains(row, "connection refused") || strings.Contains(row, "connection lost")) {
		t.Errorf("the endpoint's row: %q", row)
	}
	hashTitle := value(t, b, "the full hash on hover", chromedp.AttributeValue(chromedp.CSS(`article[data-upstream="library"] .hash`), "title")).Value
	hashText := b.text(t, `article[data-upstream="library"] .hash`)
	if len(hashText) != 12 || len(hashTitle) != 64 || !strings.HasPrefix(hashTitle, hashText) {
		t.Errorf("hash shown %q, title %q", hashText, hashTitle)
	}
	b.screenshot(t, "console-upstreams-down")

	// It comes back on the same address.
	back, err := examples.StartEcho(echoAddr)
	if err != nil {
		t.Skipf("cannot restart the backend on %s: %v", echoAddr, err)
	}
	t.Cleanup(back.Stop)
	b.run(t, "the endpoint recovers",
		visible(`article[data-upstream="echo"][data-state="up"] tr[data-state="READY"]`))
	row = b.text(t, `article[data-upstream="echo"] tr[data-endpoint="`+echoAddr+`"]`)
	if !strings.Contains(row, "READY") || !strings.Contains(row, "ago") {
		t.Errorf("the recovered endpoint's row: %q (want READY, since when, and the last error with its time)", row)
	}
	if pastErr := b.text(t, `article[data-upstream="echo"] tr[data-endpoint="`+echoAddr+`"] td.lasterr`); pastErr == "" {
		t.Errorf("the last error was forgotten after recovery")
	}
	h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"back"}`).expect(t, 200)
	b.run(t, "the overview is clear again", chromedp.Navigate(h.admin+"/#overview"), visible(`.allclear`))
	b.noErrors(t)
}

// TestConsoleRoutesAndExplorer: the routes view shows each route's
// traffic, latency and gRPC codes; the API explorer renders the live
// OpenAPI document and runs a call through the public handler.
func TestConsoleRoutesAndExplorer(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "")+`
openapi: {docs_path: /docs}
`, withHistoryStep(time.Second))
	for range 4 {
		h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	}
	h.do(t, "GET", "/v1/shelves/9", "").expect(t, 404)

	b := newBrowser(t)
	b.run(t, "open the routes", chromedp.Navigate(h.admin+"/#routes"),
		visible(`body[data-ready="true"]`),
		visible(`tr[data-route="GET /v1/shelves"]`))
	row := b.text(t, `tr[data-route="GET /v1/shelves"]`)
	for _, want := range []string{"library.v1.LibraryService.ListShelves", "OK 4"} {
		if !strings.Contains(row, want) {
			t.Errorf("the ListShelves row %q has no %q", row, want)
		}
	}
	if row := b.text(t, `tr[data-route="GET /v1/{name=shelves/*}"]`); !strings.Contains(row, "NOT_FOUND 1") {
		t.Errorf("the GetShelf row %q has no NOT_FOUND 1", row)
	}
	// Every ListShelves request ran on the fast path.
	if fp := b.text(t, `tr[data-route="GET /v1/shelves"] td.fastpath`); !strings.Contains(fp, "100.0 %") {
		t.Errorf("ListShelves' fast-path share reads %q", fp)
	}
	b.screenshot(t, "console-routes")

	const op = `.opblock-get:has(.opblock-summary-path[data-path="/v1/shelves"])`
	b.run(t, "the explorer renders the document",
		chromedp.Navigate(h.admin+"/#explorer"),
		visible(`body[data-explorer="ready"]`), visible(op))
	// swagger-ui may still be wiring its handlers when a control shows: a
	// click it drops is given again (on a loaded machine, more than once).
	clickUntil := func(what, click, until string) {
		for attempt := 1; attempt < 4; attempt++ {
			ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
			err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(click)), visible(until))
			cancel()
			if err == nil {
				return
			}
		}
		b.run(t, what, chromedp.Click(chromedp.CSS(click)), visible(until)) // fails with the page's text
	}
	clickUntil("open ListShelves", op+` .opblock-summary`, op+` .execute`)
	clickUntil("try ListShelves", op+` .execute`, op+` .live-responses-table .response-col_status`)
	resp := b.text(t, op+` .live-responses-table`)
	if !strings.Contains(resp, "200") || !strings.Contains(resp, "shelves") {
		t.Errorf("the explorer's call answered %q", resp)
	}
	b.run(t, "scroll to the call", chromedp.Evaluate[chromedp.Void](`document.querySelector('`+op+`').scrollIntoView()`))
	b.screenshot(t, "console-explorer")

	// The public listener's documentation page, same viewer.
	b.run(t, "the public docs page", chromedp.Navigate(h.base+"/docs"), visible(op))
	b.noErrors(t)
}

// TestConsoleSignIn: with admin tokens, the console asks for one, refuses
// a wrong one with the API's reason, and shows the data after a good one.
func TestConsoleSignIn(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "")+`
admin_security:
  tokens: [{value: s3cret-console-token}]
`)
	b := newBrowser(t)
	b.run(t, "the sign-in form", chromedp.Navigate(h.admin+"/"), visible(`#login`))
	b.run(t, "a wrong token", chromedp.SendKeys(chromedp.CSS(`#token`), "wrong"), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		visible(`#login`), chromedp.Poll[chromedp.Void](`document.getElementById('login-error').textContent.includes('not one of admin_security.tokens')`))
	b.run(t, "the right token", chromedp.SendKeys(chromedp.CSS(`#token`), "s3cret-console-token"), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		visible(`body[data-ready="true"]`), chromedp.WaitNotVisible(chromedp.CSS(`#login`)),
		visible(`#up-summary tr[data-upstream="library"]`))
	// The refused requests are the only errors the browser reports.
	b.noErrors(t, "status of 401")
}

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
