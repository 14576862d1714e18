package reflection_test

import (
	"testing"

	"github.com/refract-gateway/refract/reflection"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// Cache, server and connection must have been closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newCache returns a Cache closed at the end of the test.
func newCache(t testing.TB, o reflection.Options) *reflection.Cache {
	t.Helper()
	c, err := reflection.NewCache(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
