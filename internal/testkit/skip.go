package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SkipIntegration skips t because a tool an integration suite needs is
// missing (suite names the suite, install what to install), or fails it
// under CI=true, where .ci/run installs every tool.
//
// `go test ./...` shows a passing package's test log only with -v, so a
// skip would go unseen: besides the loud skip message, the first skip of
// each suite in one `go test` run is written to the terminal of the person
// running it (when there is one), as a line naming the suite and what to
// install.
func SkipIntegration(t testing.TB, suite, install string) {
	t.Helper()
	msg := fmt.Sprintf("SKIPPED — NOT TESTED: %s: %s", suite, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	announceSkip(suite, install)
	t.Skip(msg)
}

// announceSkip tells the terminal about a skipped suite, once per go test
// run: test binaries of one run share their parent, the go command, so a
// marker file per suite under a directory named after it says whether
// another package already did.
func announceSkip(suite, install string) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("refract-test-skips-%d", os.Getppid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(suite))
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // said already in this run
	}
	f.Close()
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return // no terminal: CI logs and -v show the skip message
	}
	defer tty.Close()
	fmt.Fprintf(tty, "refract tests: %s SKIPPED (not tested): %s\n", suite, install)
}
