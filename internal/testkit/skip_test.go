package testkit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A missing tool skips the test with a message naming the suite and what
// to install, and leaves the run's marker so the terminal hears of it once;
// under CI=true it fails instead. A recording TB stands in for the test, so
// that the skip and the failure are observed rather than taken.
func TestSkipIntegration(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("CI", "")
	rec := &recordingTB{TB: t}
	func() {
		defer func() { _ = recover() }() // SkipNow and FailNow stop the goroutine: recover's stand-in
		SkipIntegration(rec, "the Widget suites", "apt-get install widget")
	}()
	if rec.skipped != "SKIPPED — NOT TESTED: the Widget suites: apt-get install widget" || rec.failed != "" {
		t.Fatalf("skipped %q, failed %q", rec.skipped, rec.failed)
	}
	marker := filepath.Join(os.TempDir(), "refract-test-skips-"+strconv.Itoa(os.Getppid()), "the-widget-suites")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("no marker for the run: %v", err)
	}

	t.Setenv("CI", "true")
	rec = &recordingTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		SkipIntegration(rec, "the Widget suites", "apt-get install widget")
	}()
	if rec.failed == "" || rec.skipped != "" || !strings.Contains(rec.failed, "apt-get install widget") {
		t.Fatalf("under CI: skipped %q, failed %q", rec.skipped, rec.failed)
	}
}

// recordingTB records Skip and Fatal instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped = args[0].(string)
	panic("skip")
}
func (r *recordingTB) Fatal(args ...any) {
	r.failed = args[0].(string)
	panic("fatal")
}
