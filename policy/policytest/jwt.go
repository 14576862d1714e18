package policytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key with its kid and algorithm.
type Key struct {
	Kid    string
	Alg    string
	Signer crypto.Signer
}

// NewKey generates a key for alg: RS256, ES256 or EdDSA.
func NewKey(t testing.TB, kid, alg string) Key {
	t.Helper()
	var s crypto.Signer
	var err error
	switch alg {
	case "RS256":
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("policytest: no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return Key{Kid: kid, Alg: alg, Signer: s}
}

// Sign makes a token with claims, signed by k, with k's kid.
func (k Key) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), claims)
	tok.Header["kid"] = k.Kid
	s, err := tok.SignedString(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// JWK is k's public half as a JWK.
func (k Key) JWK() map[string]string {
	b64 := base64.RawURLEncoding
	m := map[string]string{"kid": k.Kid, "alg": k.Alg, "use": "sig"}
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64.EncodeToString(pub.N.Bytes()), b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // 0x04 || X || Y
		n := (len(raw) - 1) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64.EncodeToString(raw[1:1+n]), b64.EncodeToString(raw[1+n:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64.EncodeToString(pub)
	}
	return m
}

// JWKSServer serves a JWK set on loopback whose keys the test changes, and
// counts fetches.
type JWKSServer struct {
	URL     string
	mu      sync.Mutex
	keys    []Key
	fetches int
	status  int
}

// ServeJWKS starts the server with keys.
func ServeJWKS(t testing.TB, keys ...Key) *JWKSServer {
	t.Helper()
	s := &JWKSServer{keys: keys}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.fetches++
		if s.status != 0 {
			s.mu.Unlock()
			http.Error(w, "unavailable", s.status)
			return
		}
		set := map[string]any{"keys": []map[string]string{}}
		var list []map[string]string
		for _, k := range s.keys {
			list = append(list, k.JWK())
		}
		if list != nil {
			set["keys"] = list
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/.well-known/jwks.json"
	return s
}

// SetKeys replaces the served keys (a rotation).
func (s *JWKSServer) SetKeys(keys ...Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// Fail makes the server answer status (0: serve the keys again).
func (s *JWKSServer) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// Fetches counts the requests served.
func (s *JWKSServer) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}
