package jwt_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/policy/policytest"
)

// Rotation: a new kid is accepted as soon as it is published (an unknown
// kid triggers a fetch); a removed kid is refused after the next refresh.
func TestJWKSRotation(t *testing.T) {
	old := policytest.NewKey(t, "2025", "RS256")
	next := policytest.NewKey(t, "2026", "ES256")
	srv := policytest.ServeJWKS(t, old)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL, MinRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	// No Run loop: its own first fetch could land between the counts below.
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, _ := jwt.NewVerifier(jwt.Options{Algorithms: []string{"RS256", "ES256"}, Keys: jwks})

	if why := refused(t, v, old.Sign(t, good(nil))); why != "" {
		t.Fatalf("old key: %s", why)
	}
	if why := refused(t, v, next.Sign(t, good(nil))); why == "" {
		t.Fatal("unpublished key accepted")
	}
	srv.SetKeys(old, next)
	before := srv.Fetches()
	if why := refused(t, v, next.Sign(t, good(nil))); why != "" {
		t.Fatalf("new key after publication: %s", why)
	}
	if srv.Fetches() != before+1 {
		t.Fatalf("fetches %d → %d: the unknown kid did not trigger exactly one fetch", before, srv.Fetches())
	}
	srv.SetKeys(next)
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if why := refused(t, v, old.Sign(t, good(nil))); why != `the token cannot be verified: no key with kid "2025"` {
		t.Fatalf("removed key: %s", why)
	}
	if why := refused(t, v, next.Sign(t, good(nil))); why != "" {
		t.Fatalf("current key: %s", why)
	}
}

func TestJWKSKeepsLastGoodOnFailure(t *testing.T) {
	k := policytest.NewKey(t, "k", "EdDSA")
	srv := policytest.ServeJWKS(t, k)
	jwks, _ := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL})
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Fail(500)
	if err := jwks.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "answered 500 Internal Server Error") {
		t.Fatalf("500 JWKS: %v", err)
	}
	v, _ := jwt.NewVerifier(jwt.Options{Algorithms: []string{"EdDSA"}, Keys: jwks})
	if why := refused(t, v, k.Sign(t, good(nil))); why != "" {
		t.Fatalf("last good key after a failed refresh: %s", why)
	}
}

// TestJWKSUnknownKidBurst: tokens naming unknown kids that arrive together
// share one early fetch of the key set, however many there are; the kid
// that the fetch brings in verifies for all of them.
func TestJWKSUnknownKidBurst(t *testing.T) {
	old := policytest.NewKey(t, "old", "RS256")
	rotated := policytest.NewKey(t, "rotated", "RS256")
	srv := policytest.ServeJWKS(t, old)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL, MinRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"RS256"}, Keys: jwks})
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

// The background loop refreshes the set by itself: a key removed from the
// JWKS is refused once Run has fetched again, a key added is accepted.
// Between refreshes the set is served from memory: verifying tokens with a
// known kid fetches nothing, and unknown kids fetch at most once per
// MinRefresh.
func TestJWKSRunRefreshesAndCaches(t *testing.T) {
	old := policytest.NewKey(t, "old", "ES256")
	next := policytest.NewKey(t, "next", "EdDSA")
	srv := policytest.ServeJWKS(t, old)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL, Refresh: 20 * time.Millisecond, MinRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"ES256", "EdDSA"}, Keys: jwks})
	if err != nil {
		t.Fatal(err)
	}

	// Cached: with no Run loop, after one fetch, known kids fetch nothing
	// and an unknown kid may not fetch again within MinRefresh.
	if err := jwks.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if why := refused(t, v, old.Sign(t, good(nil))); why != "" {
			t.Fatalf("known kid: %s", why)
		}
	}
	for range 5 {
		if why := refused(t, v, next.Sign(t, good(nil))); why == "" {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := srv.Fetches(); n != 1 {
		t.Fatalf("%d fetches for 25 tokens after one refresh; want the set cached (1)", n)
	}

	// Rotation through the background loop only.
	srv.SetKeys(next)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { jwks.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// A fetch numbered after SetKeys served the new set; the one after it
	// starts only once that one was stored (fetches are serialized).
	after := srv.Fetches() + 2
	deadline := time.Now().Add(10 * time.Second)
	for srv.Fetches() < after {
		if time.Now().After(deadline) {
			t.Fatalf("Run fetched %d times in 10s", srv.Fetches())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if why := refused(t, v, old.Sign(t, good(nil))); why != `the token cannot be verified: no key with kid "old"` {
		t.Fatalf("removed key after a background refresh: %s", why)
	}
	if why := refused(t, v, next.Sign(t, good(nil))); why != "" {
		t.Fatalf("added key after a background refresh: %s", why)
	}
}

func TestCheckJWKS(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"keys":[]}`, ""},
		{`{"keys":[{"kty":"RSA","kid":"a","n":"","e":"AQAB"}]}`, `policy: jwks: key 0 (kid "a"): bad n or e`},
		{`{"keys":[{"kty":"EC","kid":"b","crv":"P-192"}]}`, `policy: jwks: key 0 (kid "b"): unsupported curve P-192`},
		{`{"keys":[{"kty":"OKP","kid":"c","crv":"X25519","x":"AA"}]}`, `policy: jwks: key 0 (kid "c"): only Ed25519 OKP keys are supported`},
		{`{"keys":[{"kty":"RSA","kid":"enc","use":"enc"},{"kty":"foo"}]}`, ""}, // skipped, not refused
		{`[`, "policy: jwks: not a JWK set: unexpected end of JSON input"},
	} {
		got := ""
		if err := jwt.CheckJWKS([]byte(c.doc)); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.doc, got, c.want)
		}
	}
	if _, err := jwt.NewJWKS(jwt.JWKSOptions{}); err == nil || err.Error() != "policy: jwks: url is required" {
		t.Fatalf("no url: %v", err)
	}
}

// A Run that takes over a set fetched moments ago (a reload's new
// policies) does not fetch it again before Refresh has passed.
func TestJWKSRunAfterAnotherFetchesNothingEarly(t *testing.T) {
	key := policytest.NewKey(t, "k", "ES256")
	srv := policytest.ServeJWKS(t, key)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL, Refresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Each Run runs until the set has been fetched and 200ms more: time
	// enough for the second to fetch at once if it did.
	run := func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { jwks.Run(ctx); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for srv.Fetches() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		cancel()
		<-done
	}
	run()
	run()
	if n := srv.Fetches(); n != 1 {
		t.Fatalf("%d fetches by two Runs within Refresh; want 1", n)
	}
}
