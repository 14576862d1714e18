package logqueue_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a queue's goroutine outlives its test: Close
// must stop it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
