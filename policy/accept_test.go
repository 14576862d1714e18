package policy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/policytest"
)

// The background loop refreshes the set by itself: a key removed from the
// JWKS is refused once Run has fetched again, a key added is accepted.
// Between refreshes the set is served from memory: verifying tokens with a
// known kid fetches nothing, and unknown kids fetch at most once per
// MinRefresh.
func TestJWKSRunRefreshesAndCaches(t *testing.T) {
	old := policytest.NewKey(t, "old", "ES256")
	next := policytest.NewKey(t, "next", "EdDSA")
	srv := policytest.ServeJWKS(t, old)
	jwks, err := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL, Refresh: 20 * time.Millisecond, MinRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"ES256", "EdDSA"}, Keys: jwks})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)

	// Cached: with no Run loop, after one fetch, known kids fetch nothing
	// and an unknown kid may not fetch again within MinRefresh.
	if err := jwks.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if w := call(h, old.Sign(t, good(nil))); w.Code != 200 {
			t.Fatalf("known kid: %d %s", w.Code, w.Body)
		}
	}
	for range 5 {
		if w := call(h, next.Sign(t, good(nil))); w.Code != 401 {
			t.Fatalf("unknown kid: %d", w.Code)
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
	if w := call(h, old.Sign(t, good(nil))); w.Code != 401 ||
		w.Body.String() != `{"code":16,"message":"the token cannot be verified: no key with kid \"old\"","details":[]}` {
		t.Fatalf("removed key after a background refresh: %d %s", w.Code, w.Body)
	}
	if w := call(h, next.Sign(t, good(nil))); w.Code != 200 {
		t.Fatalf("added key after a background refresh: %d %s", w.Code, w.Body)
	}
}

// nbf and exp both get the leeway; per-route claims are checked on a real
// verified token.
func TestJWTLeewayAndRequiredClaims(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"HS256"}, HMACSecret: secret, Leeway: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	route := policy.Then(policy.Authenticate(policy.AuthOptions{JWT: v}),
		policy.Authorize(policy.AuthzOptions{Method: "library.v1.LibraryService.DeleteShelf", Scopes: []string{"library.admin"},
			Claims: map[string]string{"tenant": "acme"}}))(claimsEcho)
	now := time.Now()
	for _, c := range []struct {
		name   string
		claims jwt.MapClaims
		status int
		body   string
	}{
		{"nbf within leeway", good(jwt.MapClaims{"nbf": now.Add(5 * time.Second).Unix(), "scope": "library.admin"}), 200, "user-7|"},
		{"nbf beyond leeway", good(jwt.MapClaims{"nbf": now.Add(20 * time.Second).Unix(), "scope": "library.admin"}), 401,
			`{"code":16,"message":"the token is not valid yet","details":[]}`},
		{"exp beyond leeway", good(jwt.MapClaims{"exp": now.Add(-20 * time.Second).Unix(), "scope": "library.admin"}), 401,
			`{"code":16,"message":"the token has expired","details":[]}`},
		{"missing scope", good(jwt.MapClaims{"scope": "library.read"}), 403,
			`{"code":7,"message":"the token lacks the scope(s) library.admin required by library.v1.LibraryService.DeleteShelf","details":[]}`},
		{"wrong claim", good(jwt.MapClaims{"scope": "library.admin", "tenant": "other"}), 403,
			`{"code":7,"message":"the token's claim \"tenant\" must be \"acme\" to call library.v1.LibraryService.DeleteShelf","details":[]}`},
		{"missing claim", good(jwt.MapClaims{"scope": "library.admin", "tenant": nil}), 403,
			`{"code":7,"message":"the token's claim \"tenant\" must be \"acme\" to call library.v1.LibraryService.DeleteShelf","details":[]}`},
		{"scope as an array, claim matched", good(jwt.MapClaims{"scope": nil, "scp": []string{"library.admin"}}), 200, "user-7|"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := call(route, sign(c.claims))
			if w.Code != c.status || w.Body.String() != c.body {
				t.Fatalf("%d %s\nwant %d %s", w.Code, w.Body, c.status, c.body)
			}
			if c.status == 403 && w.Header().Get("WWW-Authenticate") != "" {
				t.Fatalf("a 403 carries a challenge: %v", w.Header())
			}
		})
	}
}

// Rate limits keyed by JWT subject: one bucket per subject whatever the
// address; without a subject, the client's address.
func TestRateLimitBySubject(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, _ := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"HS256"}, HMACSecret: secret})
	rl, err := policy.RateLimit(policy.RateLimitOptions{Route: "GET /", Rules: []policy.Rule{{Name: "per-user", By: policy.BySubject,
		Limit: policy.Limit{Rate: 1, Period: time.Hour}, Store: policy.NewLocalLimiter(0, nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	withJWT := policy.Then(policy.Authenticate(policy.AuthOptions{JWT: v}), rl)(claimsEcho)
	anonymous := rl(claimsEcho)
	tok := func(sub string) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good(jwt.MapClaims{"sub": sub, "aud": nil, "iss": nil})).SignedString(secret)
		return "Bearer " + s
	}
	send := func(h http.Handler, remote, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, c := range []struct {
		h            string
		remote, auth string
		want         int
	}{
		{"jwt", "192.0.2.1:1", tok("alice"), 200},
		{"jwt", "192.0.2.2:1", tok("alice"), 429}, // same subject, other address
		{"jwt", "192.0.2.1:1", tok("bob"), 200},   // other subject, same address
		{"anon", "192.0.2.1:1", "", 200},          // no subject: by address
		{"anon", "192.0.2.1:1", "", 429},
		{"anon", "192.0.2.3:1", "", 200},
	} {
		h := anonymous
		if c.h == "jwt" {
			h = withJWT
		}
		if w := send(h, c.remote, c.auth); w.Code != c.want {
			t.Fatalf("%s from %s: %d, want %d: %s", c.h, c.remote, w.Code, c.want, w.Body)
		}
	}
}
