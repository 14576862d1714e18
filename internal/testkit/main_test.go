package testkit

import (
	"testing"

	"go.uber.org/goleak"
)

// The memory listener's tests start HTTP and gRPC servers: none may
// outlive its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
