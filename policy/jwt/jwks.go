package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// JWKSOptions configure a JSON Web Key Set fetched over HTTP.
type JWKSOptions struct {
	URL string
	// Refresh is how often the set is fetched again; default 5m.
	Refresh time.Duration
	// MinRefresh bounds how often a token with an unknown kid may trigger
	// an early fetch (a key rotated in); default 10s.
	MinRefresh time.Duration
	// Client fetches the set; default an http.Client with a 5s timeout.
	Client *http.Client
	Logger zerolog.Logger
}

// JWKS holds the last good key set of a URL, refreshed in the background by
// Run, early when a token names an unknown kid, or on Refresh. A failed
// fetch keeps the last good set. Safe for concurrent use.
type JWKS struct {
	o       JWKSOptions
	keys    atomic.Pointer[map[string]jwk]
	fetchMu sync.Mutex // one fetch at a time
	last    atomic.Int64
}

type jwk struct {
	key any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
	alg string // the JWK's own alg, when it names one
}

// NewJWKS validates o; it fetches nothing until Run or Refresh.
func NewJWKS(o JWKSOptions) (*JWKS, error) {
	if o.URL == "" {
		return nil, errors.New("policy: jwks: url is required")
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.MinRefresh <= 0 {
		o.MinRefresh = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	j := &JWKS{o: o}
	empty := map[string]jwk{}
	j.keys.Store(&empty)
	return j, nil
}

// CheckJWKS reports whether doc is a JWKS document NewStaticJWKS accepts.
func CheckJWKS(doc []byte) error {
	_, err := parseJWKS(doc)
	return err
}

// NewStaticJWKS is a key set from a JWKS document (a file's content), never
// refreshed.
func NewStaticJWKS(doc []byte) (*JWKS, error) {
	keys, err := parseJWKS(doc)
	if err != nil {
		return nil, err
	}
	j := &JWKS{}
	j.keys.Store(&keys)
	return j, nil
}

// Run fetches the set now and every Refresh until ctx ends. A set that
// holds keys fetched less than Refresh ago (a Run taking over from
// another's, on a config reload) is fetched again only when Refresh has
// passed since.
func (j *JWKS) Run(ctx context.Context) {
	if j.o.URL == "" {
		return
	}
	var wait time.Duration
	if last := j.last.Load(); last != 0 && len(*j.keys.Load()) > 0 {
		wait = max(0, j.o.Refresh-time.Since(time.Unix(0, last)))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := j.Refresh(ctx); err != nil && ctx.Err() == nil {
			j.o.Logger.Warn().Err(err).Str("url", j.o.URL).Msg("JWKS fetch failed; keeping the last good keys")
		}
		t.Reset(j.o.Refresh)
	}
}

// Refresh fetches the set now and swaps it in when it parses.
func (j *JWKS) Refresh(ctx context.Context) error {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	return j.fetchLocked(ctx)
}

// fetchLocked is Refresh with fetchMu held.
func (j *JWKS) fetchLocked(ctx context.Context) error {
	// Stamped when the fetch ends: a request that saw no recent fetch
	// while one was under way waits for it (fetchMu) and sees its keys.
	defer func() { j.last.Store(time.Now().UnixNano()) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.o.URL, nil)
	if err != nil {
		return fmt.Errorf("policy: jwks: %w", err)
	}
	resp, err := j.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("policy: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("policy: jwks: %s answered %s", j.o.URL, resp.Status)
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("policy: jwks: %w", err)
	}
	keys, err := parseJWKS(doc)
	if err != nil {
		return err
	}
	j.keys.Store(&keys)
	return nil
}

// key returns the key with kid. An unknown kid triggers one early fetch
// (at most every MinRefresh), so a rotated-in key works at once. Requests
// that arrive together with unknown kids share that fetch: each re-checks,
// under the fetch lock, whether the kid arrived or a fetch just happened,
// so a burst of forged kids costs the key server one request, not one
// each.
func (j *JWKS) key(ctx context.Context, kid string) (jwk, bool) {
	if k, ok := (*j.keys.Load())[kid]; ok {
		return k, true
	}
	if j.o.URL == "" || j.fetchedRecently() {
		return jwk{}, false
	}
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	if k, ok := (*j.keys.Load())[kid]; ok {
		return k, true // fetched while this request waited
	}
	if j.fetchedRecently() {
		return jwk{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := j.fetchLocked(ctx); err != nil {
		j.o.Logger.Warn().Err(err).Str("kid", kid).Msg("JWKS fetch for an unknown kid failed")
	}
	k, ok := (*j.keys.Load())[kid]
	return k, ok
}

// fetchedRecently reports a fetch that ended less than MinRefresh ago.
func (j *JWKS) fetchedRecently() bool {
	return time.Since(time.Unix(0, j.last.Load())) < j.o.MinRefresh
}

// parseJWKS reads RSA, EC (P-256/384/521), OKP (Ed25519) and oct keys;
// keys of other types or uses are skipped, a malformed key is an error.
func parseJWKS(doc []byte) (map[string]jwk, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
			K   string `json:"k"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("policy: jwks: not a JWK set: %w", err)
	}
	out := make(map[string]jwk, len(set.Keys))
	b64 := base64.RawURLEncoding
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		bad := func(what string) error {
			return fmt.Errorf("policy: jwks: key %d (kid %q): %s", i, k.Kid, what)
		}
		var key any
		switch k.Kty {
		case "RSA":
			n, err1 := b64.DecodeString(k.N)
			e, err2 := b64.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
				return nil, bad("bad n or e")
			}
			key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				return nil, bad("unsupported curve " + k.Crv)
			}
			x, err1 := b64.DecodeString(k.X)
			y, err2 := b64.DecodeString(k.Y)
			size := (curve.Params().BitSize + 7) / 8
			if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
				return nil, bad("bad x or y")
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, bad(err.Error())
			}
			key = pub
		case "OKP":
			x, err := b64.DecodeString(k.X)
			if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
				return nil, bad("only Ed25519 OKP keys are supported")
			}
			key = ed25519.PublicKey(x)
		case "oct":
			secret, err := b64.DecodeString(k.K)
			if err != nil || len(secret) == 0 {
				return nil, bad("bad k")
			}
			key = secret
		default:
			continue
		}
		out[k.Kid] = jwk{key: key, alg: k.Alg}
	}
	return out, nil
}
