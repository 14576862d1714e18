package policy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/policytest"
)

// TestJWKSUnknownKidBurst: tokens naming unknown kids that arrive together
// share one early fetch of the key set, however many there are; the kid
// that the fetch brings in verifies for all of them.
func TestJWKSUnknownKidBurst(t *testing.T) {
	old := policytest.NewKey(t, "old", "RS256")
	rotated := policytest.NewKey(t, "rotated", "RS256")
	srv := policytest.ServeJWKS(t, old)
	jwks, err := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL, MinRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"RS256"}, Keys: jwks})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetKeys(old, rotated) // rotated in before the gateway has fetched anything
	tok := rotated.Sign(t, good(nil))
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if f := srv.Fetches(); f != 1 {
		t.Fatalf("%d concurrent unknown kids made %d fetches, want 1", n, f)
	}
	// Within MinRefresh, a forged kid fetches nothing more.
	if _, err := v.Verify(context.Background(), policytest.NewKey(t, "forged", "RS256").Sign(t, good(nil))); err == nil {
		t.Fatal("forged kid verified")
	}
	if f := srv.Fetches(); f != 1 {
		t.Fatalf("a forged kid within min_refresh fetched: %d fetches", f)
	}
}
