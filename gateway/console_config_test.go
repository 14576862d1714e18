package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
)

// withSource serves the config from src instead of the test's text.
func withSource(src configsource.Source) serverOption {
	return func(o *server.Options) { o.Source = src }
}

// setEditor replaces the editor's text as typing would (an input event).
func setEditor(from, to string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.getElementById('editor');
		e.value = e.value.replace(%q, %q); e.dispatchEvent(new Event('input')); })()`, from, to))
}

// TestConsoleConfigEditor edits the config of a file-backed gateway in the
// console: a viewer sees it but not the controls that change it; an admin
// types a bad timeout and sees the error at its line and key, types a
// good one and sees the diff, applies it (the gateway runs it), and rolls
// it back from the history.
func TestConsoleConfigEditor(t *testing.T) {
	lib := startLibrary(t)
	path := filepath.Join(t.TempDir(), "refract.yaml")
	orig := fmt.Sprintf(`admin_security:
  tokens:
    - {name: adam, role: admin, value: console-admin-token}
    - {name: vera, role: viewer, value: console-viewer-token}
upstreams:
  - name: library
    static: [%q]
    timeout: 10s
`, lib.Addr)
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startGateway(t, orig, withSource(&configsource.File{Path: path}))
	timeout := func() time.Duration { return time.Duration(h.srv.Config().Upstreams[0].Timeout) }

	b := newBrowser(t)
	signIn := func(token string) {
		b.run(t, "sign in", chromedp.Navigate(h.admin+"/#config"), visible(`#login`),
			chromedp.SendKeys(chromedp.CSS(`#token`), token), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
			visible(`body[data-ready="true"]`), visible(`#editor-box`))
	}
	signIn("console-viewer-token")
	if who := b.text(t, "#whoami"); !strings.Contains(who, "vera") || !strings.Contains(who, "viewer") {
		t.Errorf("whoami shows %q", who)
	}
	b.run(t, "a viewer has no apply, reload or rollback", chromedp.WaitNotVisible(chromedp.CSS(`#apply`)), chromedp.WaitNotVisible(chromedp.CSS(`#reload`)))
	b.run(t, "sign out", chromedp.Click(chromedp.CSS(`#signout`)), visible(`#login`))

	signIn("console-admin-token")
	b.run(t, "the editor holds the source", chromedp.Poll[chromedp.Void](`document.getElementById('editor').value.includes('timeout: 10s')`),
		visible(`#apply`))

	b.run(t, "a bad timeout is refused as it is typed", setEditor("timeout: 10s", "timeout: 10 seconds"),
		visible(`#editor-errors li.error[data-path="upstreams[0].timeout"]`))
	if e := b.text(t, `#editor-errors li.error[data-path="upstreams[0].timeout"]`); !strings.Contains(e, "line 8") || !strings.Contains(e, "is not a duration") {
		t.Errorf("the error reads %q", e)
	}
	if dis := value(t, b, "apply disabled", chromedp.Evaluate[bool](`document.getElementById('apply').disabled`)); !dis {
		t.Error("apply is enabled for an invalid config")
	}

	b.run(t, "a good one shows the diff", setEditor("timeout: 10 seconds", "timeout: 3s"),
		visible(`body[data-validated="valid"]`), visible(`#editor-diff tr.changed`))
	if d := b.text(t, `#editor-diff tr.changed`); !strings.Contains(d, "upstreams[library].timeout") || !strings.Contains(d, `"10s"`) || !strings.Contains(d, `"3s"`) {
		t.Errorf("the diff reads %q", d)
	}
	b.screenshot(t, "console-config")
	b.run(t, "apply", chromedp.Click(chromedp.CSS(`#apply`)), visible(`#apply-result .ok`))
	if got := timeout(); got != 3*time.Second {
		t.Fatalf("after apply the gateway runs timeout %v", got)
	}
	if file, _ := os.ReadFile(path); !strings.Contains(string(file), "timeout: 3s") {
		t.Errorf("the file was not written:\n%s", file)
	}

	b.run(t, "roll back from the history", visible(`#history tbody tr:nth-child(2) button.rollback`),
		chromedp.Click(chromedp.CSS(`#history tbody tr:nth-child(2) button.rollback`)), visible(`#apply-result .ok`),
		chromedp.Poll[chromedp.Void](`document.getElementById('editor').value.includes('timeout: 10s')`))
	if got := timeout(); got != 10*time.Second {
		t.Fatalf("after the rollback the gateway runs timeout %v", got)
	}
	b.noErrors(t, "status of 401")
}
