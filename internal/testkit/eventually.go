package testkit

import (
	"testing"
	"time"
)

// Eventually calls cond every 5ms until it returns true, and fails the
// test with "timed out after <timeout> waiting for <what>" when timeout
// passes first. cond runs on the test's goroutine.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
