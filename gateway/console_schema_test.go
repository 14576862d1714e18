package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/refract-gateway/refract/examples"
)

// TestConsoleSchemaHistory: a backend redeployed with one method more
// shows up in its upstream's schema history, and the diff with the
// previous version names the method added.
func TestConsoleSchemaHistory(t *testing.T) {
	v1, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := v1.Addr
	h := startGateway(t, libraryConfig(addr, ""))
	b := newBrowser(t)
	b.run(t, "the upstreams", chromedp.Navigate(h.admin+"/#upstreams"), visible(`article[data-upstream="library"][data-state="up"]`))

	v1.Stop()
	v2, err := examples.StartLibraryV2(addr)
	if err != nil {
		t.Skipf("cannot restart the backend on %s: %v", addr, err)
	}
	t.Cleanup(v2.Stop)
	b.run(t, "the new version in the history",
		chromedp.Poll[chromedp.Void](`(document.querySelector('article[data-upstream="library"] details.schemas summary') || {}).textContent === 'schema history (2 versions)'`),
		chromedp.Click(chromedp.CSS(`article[data-upstream="library"] details.schemas summary`)),
		visible(`article[data-upstream="library"] details.schemas button`),
		chromedp.Click(chromedp.CSS(`article[data-upstream="library"] details.schemas button`)),
		visible(`#schema-diff-library tr.added`))
	if d := b.text(t, `#schema-diff-library`); !strings.Contains(d, "GetServerVersion") {
		t.Errorf("the diff reads %q", d)
	}
	// The opened history and its diff survive the page's redraws.
	b.run(t, "two redraws later", chromedp.Poll[chromedp.Void](`(() => { window.__n = (window.__n || 0) + 1; return window.__n > 1 &&
		document.querySelector('#schema-diff-library tr.added') && document.querySelector('article[data-upstream="library"] details.schemas').open; })()`,
		chromedp.WithPollingInterval(2500*time.Millisecond)))
	b.screenshot(t, "console-schema-history")
	b.noErrors(t)
}
