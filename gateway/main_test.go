package gateway_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the package's tests and fails the run if any goroutine
// outlives them: every gateway, backend, listener and client connection a
// test starts must be gone when it ends. Nothing is ignored: the
// dependencies' background goroutines (grpc-go's, the Consul client's,
// net/http's) all end when what started them is closed.
//
// The test binary is also the fault tests' helper process: started with
// helperEnv set, it runs that role (a backend, a crowd of idle clients; see
// runHelper) instead of the tests, until its parent closes its stdin
// or kills it.
func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	goleak.VerifyTestMain(m)
}
