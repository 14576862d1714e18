package policy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/policy"
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

func good(extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"iss": "https://id.test", "aud": "refract", "sub": "user-7",
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

func TestJWTAlgorithmsAndClaims(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	es := policytest.NewKey(t, "es-1", "ES256")
	ed := policytest.NewKey(t, "ed-1", "EdDSA")
	srv := policytest.ServeJWKS(t, rs, es, ed)
	jwks, err := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := policy.NewJWTVerifier(policy.JWTOptions{
		Algorithms: []string{"RS256", "ES256", "EdDSA", "HS256"}, Issuer: "https://id.test", Audiences: []string{"refract"},
		Leeway: 5 * time.Second, HMACSecret: []byte("0123456789abcdef0123456789abcdef"), Keys: jwks,
		ForwardClaims: map[string]string{"sub": "x-user-id", "tenant": "x-tenant"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)

	for _, k := range []policytest.Key{rs, es, ed} {
		w := call(h, k.Sign(t, good(nil)))
		if w.Code != 200 || w.Body.String() != "user-7|x-user-id,user-7,x-tenant,acme" {
			t.Fatalf("%s: %d %s", k.Alg, w.Code, w.Body)
		}
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, good(nil))
	hsTok, _ := hs.SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if w := call(h, hsTok); w.Code != 200 {
		t.Fatalf("HS256: %d %s", w.Code, w.Body)
	}

	now := time.Now()
	cases := []struct {
		name, token, why string
	}{
		{"expired beyond leeway", rs.Sign(t, good(jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()})), "the token has expired"},
		{"not valid yet", rs.Sign(t, good(jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()})), "the token is not valid yet"},
		{"no exp", rs.Sign(t, good(jwt.MapClaims{"exp": nil})), "the token lacks a required claim (exp)"},
		{"wrong issuer", rs.Sign(t, good(jwt.MapClaims{"iss": "https://evil.test"})), "the token's issuer is not accepted"},
		{"wrong audience", rs.Sign(t, good(jwt.MapClaims{"aud": "other"})), "the token's audience is not accepted"},
		{"unknown kid", policytest.NewKey(t, "nobody", "RS256").Sign(t, good(nil)), `the token cannot be verified: no key with kid "nobody"`},
		{"forged with another key under a known kid", policytest.Key{Kid: "rs-1", Alg: "RS256", Signer: policytest.NewKey(t, "x", "RS256").Signer}.Sign(t, good(nil)), "the token's signature is invalid"},
		{"malformed", "abc.def", "the bearer token is malformed"},
	}
	for _, c := range cases {
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
	// Within leeway is fine.
	if w := call(h, rs.Sign(t, good(jwt.MapClaims{"exp": now.Add(-2 * time.Second).Unix()}))); w.Code != 200 {
		t.Fatalf("within leeway: %d %s", w.Code, w.Body)
	}
	w := call(h, "")
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="refract"` ||
		w.Body.String() != `{"code":16,"message":"missing credentials: send a bearer token in the Authorization header","details":[]}` {
		t.Fatalf("no token: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
}

// An algorithm outside the configured list is refused even with a valid
// signature (no alg confusion: an RS256-only gateway ignores HS256).
func TestJWTAlgorithmFixedByConfig(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	es := policytest.NewKey(t, "es-1", "ES256")
	srv := policytest.ServeJWKS(t, rs, es)
	keys, _ := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL})
	if err := keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"RS256"}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)
	w := call(h, es.Sign(t, good(nil)))
	if w.Code != 401 || w.Body.String() != `{"code":16,"message":"the token's algorithm ES256 is not accepted (accepted: RS256)","details":[]}` {
		t.Fatalf("ES256 on an RS256 gateway: %d %s", w.Code, w.Body)
	}
	if _, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"HS256"}}); err == nil ||
		err.Error() != "policy: jwt: algorithm HS256 needs an HMAC secret" {
		t.Fatalf("HS256 without secret: %v", err)
	}
	if _, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"none"}}); err == nil {
		t.Fatal("alg none accepted")
	}
}

// Rotation: a new kid is accepted as soon as it is published (an unknown
// kid triggers a fetch); a removed kid is refused after the next refresh.
func TestJWKSRotation(t *testing.T) {
	old := policytest.NewKey(t, "2025", "RS256")
	next := policytest.NewKey(t, "2026", "ES256")
	srv := policytest.ServeJWKS(t, old)
	jwks, err := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL, MinRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	// No Run loop: its own first fetch could land between the counts below.
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, _ := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"RS256", "ES256"}, Keys: jwks})
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)

	if w := call(h, old.Sign(t, good(nil))); w.Code != 200 {
		t.Fatalf("old key: %d %s", w.Code, w.Body)
	}
	if w := call(h, next.Sign(t, good(nil))); w.Code != 401 {
		t.Fatalf("unpublished key: %d", w.Code)
	}
	srv.SetKeys(old, next)
	before := srv.Fetches()
	if w := call(h, next.Sign(t, good(nil))); w.Code != 200 {
		t.Fatalf("new key after publication: %d %s", w.Code, w.Body)
	}
	if srv.Fetches() != before+1 {
		t.Fatalf("fetches %d → %d: the unknown kid did not trigger exactly one fetch", before, srv.Fetches())
	}
	srv.SetKeys(next)
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := call(h, old.Sign(t, good(nil))); w.Code != 401 || !strings.Contains(w.Body.String(), `no key with kid \"2025\"`) {
		t.Fatalf("removed key: %d %s", w.Code, w.Body)
	}
	if w := call(h, next.Sign(t, good(nil))); w.Code != 200 {
		t.Fatalf("current key: %d", w.Code)
	}
}

func TestJWKSKeepsLastGoodOnFailure(t *testing.T) {
	k := policytest.NewKey(t, "k", "EdDSA")
	srv := policytest.ServeJWKS(t, k)
	jwks, _ := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL})
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Fail(500)
	if err := jwks.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "answered 500 Internal Server Error") {
		t.Fatalf("500 JWKS: %v", err)
	}
	v, _ := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"EdDSA"}, Keys: jwks})
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)
	if w := call(h, k.Sign(t, good(nil))); w.Code != 200 {
		t.Fatalf("last good key after a failed refresh: %d %s", w.Code, w.Body)
	}
}

// TestJWTWeakHMACSecret: a secret shorter than its hash is refused when
// the config is checked, naming the length needed (RFC 7518 §3.2).
func TestJWTWeakHMACSecret(t *testing.T) {
	cases := []struct {
		alg    string
		secret string
		want   string
	}{
		{"HS256", "x", "policy: jwt: the HMAC secret has 1 bytes; HS256 needs at least 32 (RFC 7518 §3.2: a key as long as the hash), random"},
		{"HS256", strings.Repeat("k", 31), "policy: jwt: the HMAC secret has 31 bytes; HS256 needs at least 32 (RFC 7518 §3.2: a key as long as the hash), random"},
		{"HS384", strings.Repeat("k", 47), "policy: jwt: the HMAC secret has 47 bytes; HS384 needs at least 48 (RFC 7518 §3.2: a key as long as the hash), random"},
		{"HS512", strings.Repeat("k", 63), "policy: jwt: the HMAC secret has 63 bytes; HS512 needs at least 64 (RFC 7518 §3.2: a key as long as the hash), random"},
		{"HS256", strings.Repeat("k", 32), ""},
		{"HS512", strings.Repeat("k", 64), ""},
	}
	for _, c := range cases {
		err := policy.CheckJWT(policy.JWTOptions{Algorithms: []string{c.alg}, HMACSecret: []byte(c.secret)}, false)
		if got := fmt.Sprint(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s with %d bytes: %v, want %q", c.alg, len(c.secret), err, c.want)
		}
	}
}

// TestJWTMissingClaims: a token without the iss or aud the verifier
// requires is told which claim it lacks, not that it lacks exp.
func TestJWTMissingClaims(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	srv := policytest.ServeJWKS(t, rs)
	jwks, err := policy.NewJWKS(policy.JWKSOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"RS256"}, Issuer: "https://id.test", Audiences: []string{"refract"}, Keys: jwks})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)
	for _, c := range []struct {
		name   string
		claims jwt.MapClaims
		why    string
	}{
		{"no iss", good(jwt.MapClaims{"iss": nil}), "the token lacks a required claim (iss)"},
		{"no aud", good(jwt.MapClaims{"aud": nil}), "the token lacks a required claim (aud)"},
		{"no exp", good(jwt.MapClaims{"exp": nil}), "the token lacks a required claim (exp)"},
	} {
		w := call(h, rs.Sign(t, c.claims))
		if want := `{"code":16,"message":"` + c.why + `","details":[]}`; w.Code != 401 || w.Body.String() != want {
			t.Errorf("%s: %d %s, want 401 %s", c.name, w.Code, w.Body, want)
		}
	}
}

// TestJWTClaimNotMetadata: a valid token whose forwarded claim holds a
// line break is a 400 in our words, never a header injection nor a 500
// from grpc-go.
func TestJWTClaimNotMetadata(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"HS256"}, HMACSecret: secret,
		ForwardClaims: map[string]string{"tenant": "x-tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	h := policy.Authenticate(policy.AuthOptions{JWT: v})(claimsEcho)
	for _, tenant := range []string{"acme\r\nx-admin: true", "acme\n", "caf\u00e9"} {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good(jwt.MapClaims{"tenant": tenant})).SignedString(secret)
		w := call(h, tok)
		want := `{"code":3,"message":"the token's \"tenant\" claim cannot be forwarded as metadata \"x-tenant\": metadata values must be printable ASCII, and this one holds a line break, a control character or a non-ASCII character","details":[]}`
		if w.Code != 400 || w.Body.String() != want {
			t.Errorf("tenant %q: %d %s", tenant, w.Code, w.Body)
		}
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good(nil)).SignedString(secret)
	if w := call(h, tok); w.Code != 200 || w.Body.String() != "user-7|x-tenant,acme" {
		t.Fatalf("plain claim: %d %s", w.Code, w.Body)
	}
}

// TestAuthenticateOneAuthorization: only one Authorization header can be
// checked, and every one would reach the backend: two are a 400, on
// token and API-key routes alike.
func TestAuthenticateOneAuthorization(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := policy.NewJWTVerifier(policy.JWTOptions{Algorithms: []string{"HS256"}, HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good(nil)).SignedString(secret)
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
