package policy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/policy/policytest"
)

// claimsEcho is the upstream stand-in: it answers with what authentication
// established.
var claimsEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	i := policy.InfoFrom(r.Context())
	_, _ = w.Write([]byte(i.Subject + "|" + strings.Join(i.Metadata, ",")))
})

func call(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/v1/x", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func good(extra gojwt.MapClaims) gojwt.MapClaims {
	c := gojwt.MapClaims{"iss": "https://id.test", "aud": "refract", "sub": "user-7",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "scope": "books.read books.write", "tenant": "acme"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// TestAuthenticateBearer: a good token's subject and forwarded claims
// reach the upstream; a refused one gets 401 with the verifier's reason in
// the body and in an RFC 6750 challenge; a forwarded claim that cannot be
// metadata gets 400; no token gets a bare challenge. (The reasons
// themselves are the verifier's, tested with it.)
func TestAuthenticateBearer(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	es := policytest.NewKey(t, "es-1", "ES256")
	srv := policytest.ServeJWKS(t, rs, es)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"RS256"}, Issuer: "https://id.test", Audiences: []string{"refract"},
		Keys: jwks, ForwardClaims: map[string]string{"sub": "x-user-id", "tenant": "x-tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)

	if w := call(h, rs.Sign(t, good(nil))); w.Code != 200 || w.Body.String() != "user-7|x-user-id,user-7,x-tenant,acme" {
		t.Fatalf("good token: %d %s", w.Code, w.Body)
	}
	for _, c := range []struct {
		name, token, why string
	}{
		{"expired", rs.Sign(t, good(gojwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})), "the token has expired"},
		{"unknown kid", policytest.NewKey(t, "nobody", "RS256").Sign(t, good(nil)), `the token cannot be verified: no key with kid "nobody"`},
		{"algorithm not accepted", es.Sign(t, good(nil)), "the token's algorithm ES256 is not accepted (accepted: RS256)"},
		{"no aud", rs.Sign(t, good(gojwt.MapClaims{"aud": nil})), "the token lacks a required claim (aud)"},
		{"malformed", "abc.def", "the bearer token is malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := call(h, c.token)
			if w.Code != 401 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			wantBody := `{"code":16,"message":"` + strings.ReplaceAll(c.why, `"`, `\"`) + `","details":[]}`
			if w.Body.String() != wantBody {
				t.Fatalf("body %s\nwant %s", w.Body, wantBody)
			}
			challenge := `Bearer realm="refract", error="invalid_token", error_description="` + strings.ReplaceAll(c.why, `"`, `\"`) + `"`
			if got := w.Header().Get("WWW-Authenticate"); got != challenge {
				t.Fatalf("WWW-Authenticate %q\nwant %q", got, challenge)
			}
		})
	}
	w := call(h, rs.Sign(t, good(gojwt.MapClaims{"tenant": "acme\r\nx-admin: true"})))
	if want := `{"code":3,"message":"the token's \"tenant\" claim cannot be forwarded as metadata \"x-tenant\": metadata values must be printable ASCII, and this one holds a line break, a control character or a non-ASCII character","details":[]}`; w.Code != 400 || w.Body.String() != want {
		t.Fatalf("claim with a line break: %d %s", w.Code, w.Body)
	}
	w = call(h, "")
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="refract"` ||
		w.Body.String() != `{"code":16,"message":"missing credentials: send a bearer token in the Authorization header","details":[]}` {
		t.Fatalf("no token: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
}

// TestAuthenticateOneAuthorization: only one Authorization header can be
// checked, and every one would reach the backend: two are a 400, on
// token and API-key routes alike.
func TestAuthenticateOneAuthorization(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"HS256"}, HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := gojwt.NewWithClaims(gojwt.SigningMethodHS256, good(nil)).SignedString(secret)
	cs, err := policy.NewConsumers(policy.ConsumersOptions{Consumers: []policy.ConsumerOptions{{Name: "app", KeyHashes: [][32]byte{policy.HashKey("app-key")}}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]policy.AuthOptions{"jwt": {JWT: v}, "api_key": {Consumers: cs}} {
		h := policy.Authenticate(o)(claimsEcho)
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.Header.Add("Authorization", "Bearer "+tok)
		r.Header.Add("Authorization", "Bearer FORGED")
		r.Header.Set("X-Api-Key", "app-key")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if want := `{"code":3,"message":"the request has 2 Authorization headers; send exactly one","details":[]}`; w.Code != 400 || w.Body.String() != want {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
}

// nbf and exp both get the leeway; per-route claims are checked on a real
// verified token.
func TestJWTLeewayAndRequiredClaims(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"HS256"}, HMACSecret: secret, Leeway: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c gojwt.MapClaims) string {
		s, err := gojwt.NewWithClaims(gojwt.SigningMethodHS256, c).SignedString(secret)
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
		claims gojwt.MapClaims
		status int
		body   string
	}{
		{"nbf within leeway", good(gojwt.MapClaims{"nbf": now.Add(5 * time.Second).Unix(), "scope": "library.admin"}), 200, "user-7|"},
		{"nbf beyond leeway", good(gojwt.MapClaims{"nbf": now.Add(20 * time.Second).Unix(), "scope": "library.admin"}), 401,
			`{"code":16,"message":"the token is not valid yet","details":[]}`},
		{"exp beyond leeway", good(gojwt.MapClaims{"exp": now.Add(-20 * time.Second).Unix(), "scope": "library.admin"}), 401,
			`{"code":16,"message":"the token has expired","details":[]}`},
		{"missing scope", good(gojwt.MapClaims{"scope": "library.read"}), 403,
			`{"code":7,"message":"the token lacks the scope(s) library.admin required by library.v1.LibraryService.DeleteShelf","details":[]}`},
		{"wrong claim", good(gojwt.MapClaims{"scope": "library.admin", "tenant": "other"}), 403,
			`{"code":7,"message":"the token's claim \"tenant\" must be \"acme\" to call library.v1.LibraryService.DeleteShelf","details":[]}`},
		{"missing claim", good(gojwt.MapClaims{"scope": "library.admin", "tenant": nil}), 403,
			`{"code":7,"message":"the token's claim \"tenant\" must be \"acme\" to call library.v1.LibraryService.DeleteShelf","details":[]}`},
		{"scope as an array, claim matched", good(gojwt.MapClaims{"scope": nil, "scp": []string{"library.admin"}}), 200, "user-7|"},
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
	v, _ := jwt.NewVerifier(jwt.Options{Algorithms: []string{"HS256"}, HMACSecret: secret})
	rl, err := policy.RateLimit(policy.RateLimitOptions{Route: "GET /", Rules: []policy.Rule{{Name: "per-user", By: policy.BySubject,
		Limit: policy.Limit{Rate: 1, Period: time.Hour}, Store: policy.NewLocalLimiter(0, nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	withJWT := policy.Then(policy.Authenticate(policy.AuthOptions{JWT: v}), rl)(claimsEcho)
	anonymous := rl(claimsEcho)
	tok := func(sub string) string {
		s, _ := gojwt.NewWithClaims(gojwt.SigningMethodHS256, good(gojwt.MapClaims{"sub": sub, "aud": nil, "iss": nil})).SignedString(secret)
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
