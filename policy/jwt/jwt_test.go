package jwt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/policy/policytest"
)

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

// refused verifies token and returns why it was refused ("" when it was
// not).
func refused(t *testing.T, v *jwt.Verifier, token string) string {
	t.Helper()
	_, err := v.Verify(context.Background(), token)
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAlgorithmsAndClaims(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	es := policytest.NewKey(t, "es-1", "ES256")
	ed := policytest.NewKey(t, "ed-1", "EdDSA")
	srv := policytest.ServeJWKS(t, rs, es, ed)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{
		Algorithms: []string{"RS256", "ES256", "EdDSA", "HS256"}, Issuer: "https://id.test", Audiences: []string{"refract"},
		Leeway: 5 * time.Second, HMACSecret: []byte("0123456789abcdef0123456789abcdef"), Keys: jwks,
		ForwardClaims: map[string]string{"sub": "x-user-id", "tenant": "x-tenant"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.MetadataKeys(), ","); got != "x-user-id,x-tenant" {
		t.Fatalf("MetadataKeys %s", got)
	}

	for _, k := range []policytest.Key{rs, es, ed} {
		got, err := v.Verify(context.Background(), k.Sign(t, good(nil)))
		if err != nil {
			t.Fatalf("%s: %v", k.Alg, err)
		}
		if got.Subject != "user-7" || strings.Join(got.Metadata, ",") != "x-user-id,user-7,x-tenant,acme" ||
			strings.Join(got.Scopes, " ") != "books.read books.write" || got.Claims["tenant"] != "acme" {
			t.Fatalf("%s: %+v", k.Alg, got)
		}
	}
	hsTok, _ := gojwt.NewWithClaims(gojwt.SigningMethodHS256, good(nil)).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if why := refused(t, v, hsTok); why != "" {
		t.Fatalf("HS256: %s", why)
	}

	now := time.Now()
	cases := []struct {
		name, token, why string
	}{
		{"expired beyond leeway", rs.Sign(t, good(gojwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()})), "the token has expired"},
		{"not valid yet", rs.Sign(t, good(gojwt.MapClaims{"nbf": now.Add(time.Minute).Unix()})), "the token is not valid yet"},
		{"no exp", rs.Sign(t, good(gojwt.MapClaims{"exp": nil})), "the token lacks a required claim (exp)"},
		{"wrong issuer", rs.Sign(t, good(gojwt.MapClaims{"iss": "https://evil.test"})), "the token's issuer is not accepted"},
		{"wrong audience", rs.Sign(t, good(gojwt.MapClaims{"aud": "other"})), "the token's audience is not accepted"},
		{"unknown kid", policytest.NewKey(t, "nobody", "RS256").Sign(t, good(nil)), `the token cannot be verified: no key with kid "nobody"`},
		{"forged with another key under a known kid", policytest.Key{Kid: "rs-1", Alg: "RS256", Signer: policytest.NewKey(t, "x", "RS256").Signer}.Sign(t, good(nil)), "the token's signature is invalid"},
		{"malformed", "abc.def", "the bearer token is malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why := refused(t, v, c.token); why != c.why {
				t.Fatalf("got %q\nwant %q", why, c.why)
			}
		})
	}
	// Within leeway is fine.
	if why := refused(t, v, rs.Sign(t, good(gojwt.MapClaims{"exp": now.Add(-2 * time.Second).Unix()}))); why != "" {
		t.Fatalf("within leeway: %s", why)
	}
}

// An algorithm outside the configured list is refused even with a valid
// signature (no alg confusion: an RS256-only gateway ignores HS256).
func TestAlgorithmFixedByConfig(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	es := policytest.NewKey(t, "es-1", "ES256")
	srv := policytest.ServeJWKS(t, rs, es)
	keys, _ := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL})
	if err := keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"RS256"}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if why := refused(t, v, es.Sign(t, good(nil))); why != "the token's algorithm ES256 is not accepted (accepted: RS256)" {
		t.Fatalf("ES256 on an RS256 gateway: %s", why)
	}
	if _, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"HS256"}}); err == nil ||
		err.Error() != "policy: jwt: algorithm HS256 needs an HMAC secret" {
		t.Fatalf("HS256 without secret: %v", err)
	}
	if _, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"none"}}); err == nil {
		t.Fatal("alg none accepted")
	}
}

// TestWeakHMACSecret: a secret shorter than its hash is refused when the
// config is checked, naming the length needed (RFC 7518 §3.2).
func TestWeakHMACSecret(t *testing.T) {
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
		err := jwt.Check(jwt.Options{Algorithms: []string{c.alg}, HMACSecret: []byte(c.secret)}, false)
		if got := fmt.Sprint(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s with %d bytes: %v, want %q", c.alg, len(c.secret), err, c.want)
		}
	}
}

// TestMissingClaims: a token without the iss or aud the verifier requires
// is told which claim it lacks, not that it lacks exp.
func TestMissingClaims(t *testing.T) {
	rs := policytest.NewKey(t, "rs-1", "RS256")
	srv := policytest.ServeJWKS(t, rs)
	jwks, err := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"RS256"}, Issuer: "https://id.test", Audiences: []string{"refract"}, Keys: jwks})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		claims gojwt.MapClaims
		why    string
	}{
		{"no iss", good(gojwt.MapClaims{"iss": nil}), "the token lacks a required claim (iss)"},
		{"no aud", good(gojwt.MapClaims{"aud": nil}), "the token lacks a required claim (aud)"},
		{"no exp", good(gojwt.MapClaims{"exp": nil}), "the token lacks a required claim (exp)"},
		{"no iss, aud or exp", good(gojwt.MapClaims{"iss": nil, "aud": nil, "exp": nil}), "the token lacks required claims (exp, iss, aud)"},
	} {
		if why := refused(t, v, rs.Sign(t, c.claims)); why != c.why {
			t.Errorf("%s: %q, want %q", c.name, why, c.why)
		}
	}
}

// TestClaimNotMetadata: a valid token whose forwarded claim holds a line
// break or a non-ASCII character is a ClaimError, never a metadata value.
func TestClaimNotMetadata(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"HS256"}, HMACSecret: secret,
		ForwardClaims: map[string]string{"tenant": "x-tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme\r\nx-admin: true", "acme\n", "caf\u00e9"} {
		tok, _ := gojwt.NewWithClaims(gojwt.SigningMethodHS256, good(gojwt.MapClaims{"tenant": tenant})).SignedString(secret)
		_, err := v.Verify(context.Background(), tok)
		var ce *jwt.ClaimError
		want := `the token's "tenant" claim cannot be forwarded as metadata "x-tenant": metadata values must be printable ASCII, and this one holds a line break, a control character or a non-ASCII character`
		if !errors.As(err, &ce) || ce.Claim != "tenant" || ce.Key != "x-tenant" || err.Error() != want {
			t.Errorf("tenant %q: %v", tenant, err)
		}
	}
	tok, _ := gojwt.NewWithClaims(gojwt.SigningMethodHS256, good(nil)).SignedString(secret)
	if got, err := v.Verify(context.Background(), tok); err != nil || strings.Join(got.Metadata, ",") != "x-tenant,acme" {
		t.Fatalf("plain claim: %v %v", got, err)
	}
}

func TestClaimHas(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
		has  bool
	}{
		{"acme", "acme", true},
		{"acme", "acm", false},
		{"a acme", "acme", false}, // a string claim is one value, not a list
		{[]any{"x", "acme"}, "acme", true},
		{[]any{"x", 1.0}, "1", false},
		{1.0, "1", true},
		{true, "true", true},
		{nil, "", false},
		{"", "", false},
	} {
		if got := jwt.ClaimHas(c.v, c.want); got != c.has {
			t.Errorf("ClaimHas(%#v, %q) = %v", c.v, c.want, got)
		}
	}
}
