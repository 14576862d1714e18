package policy

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
)

// JWTOptions configure bearer-token verification.
type JWTOptions struct {
	// Algorithms are the only ones accepted ("RS256", "ES256", "EdDSA",
	// "HS256" …): a token's own alg header never widens them.
	Algorithms []string
	// Issuer, when set, must equal the iss claim.
	Issuer string
	// Audiences, when set: the aud claim must hold one of them.
	Audiences []string
	// Leeway absorbs clock skew for exp, nbf and iat; default 30s.
	Leeway time.Duration
	// HMACSecret verifies HS* tokens.
	HMACSecret []byte
	// Keys verifies RS*, PS*, ES* and EdDSA tokens by their kid.
	Keys *JWKS
	// ForwardClaims maps claim names to metadata keys the upstream gets
	// ({"sub": "x-user-id"}). Client headers with those keys are dropped.
	ForwardClaims map[string]string
	// ScopeClaim names the claim holding scopes, a space-separated string
	// or an array; default "scope" (then "scp").
	ScopeClaim string
}

// JWTVerifier checks bearer tokens. Immutable; safe for concurrent use.
type JWTVerifier struct {
	o      JWTOptions
	parser *jwt.Parser
	fwd    []claimKey // sorted, for a stable metadata order
}

type claimKey struct{ claim, key string }

// CheckJWT reports what NewJWTVerifier would refuse in o: algorithms
// missing, unknown or without their key source, forward_claims keys that
// are not valid metadata keys. publicKeys stands for o.Keys != nil, so a
// config can be checked before its key set is built.
func CheckJWT(o JWTOptions, publicKeys bool) error {
	if len(o.Algorithms) == 0 {
		return errors.New("policy: jwt: algorithms is required (e.g. [RS256])")
	}
	for _, a := range o.Algorithms {
		m := jwt.GetSigningMethod(a)
		if m == nil || a == "none" {
			return fmt.Errorf("policy: jwt: unknown algorithm %q", a)
		}
		if strings.HasPrefix(a, "HS") {
			if len(o.HMACSecret) == 0 {
				return fmt.Errorf("policy: jwt: algorithm %s needs an HMAC secret", a)
			}
		} else if !publicKeys {
			return fmt.Errorf("policy: jwt: algorithm %s needs public keys (a JWKS URL or file)", a)
		}
	}
	for _, k := range o.ForwardClaims {
		if !rpcstatus.SettableMetadataKey(k) {
			return fmt.Errorf("policy: jwt: forward_claims: %q is not a valid metadata key", k)
		}
	}
	return nil
}

// NewJWTVerifier validates o (see CheckJWT).
func NewJWTVerifier(o JWTOptions) (*JWTVerifier, error) {
	if err := CheckJWT(o, o.Keys != nil); err != nil {
		return nil, err
	}
	if o.Leeway == 0 {
		o.Leeway = 30 * time.Second
	}
	if o.ScopeClaim == "" {
		o.ScopeClaim = "scope"
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(o.Algorithms),
		jwt.WithLeeway(o.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if len(o.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(o.Audiences...))
	}
	v := &JWTVerifier{o: o, parser: jwt.NewParser(opts...)}
	for c, k := range o.ForwardClaims {
		v.fwd = append(v.fwd, claimKey{c, k})
	}
	sort.Slice(v.fwd, func(i, j int) bool { return v.fwd[i].claim < v.fwd[j].claim })
	return v, nil
}

// MetadataKeys lists the metadata keys this verifier writes.
func (v *JWTVerifier) MetadataKeys() []string {
	out := make([]string, len(v.fwd))
	for i, f := range v.fwd {
		out[i] = f.key
	}
	return out
}

// verified is what a good token tells the chain.
type verified struct {
	subject string
	scopes  []string
	claims  map[string]any
	meta    []string
}

// Verify checks the token's signature with a key of an allowed algorithm,
// then exp, nbf, iat (with leeway), iss and aud. The error says why the
// token was refused, in words a caller can act on.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*verified, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if strings.HasPrefix(alg, "HS") {
			return v.o.HMACSecret, nil
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, keyError("the token has no kid header")
		}
		k, ok := v.o.Keys.key(ctx, kid)
		if !ok {
			return nil, keyError(fmt.Sprintf("no key with kid %q", kid))
		}
		if k.alg != "" && k.alg != alg {
			return nil, keyError(fmt.Sprintf("key %q is for %s, the token says %s", kid, k.alg, alg))
		}
		if !keyFits(alg, k.key) {
			return nil, keyError(fmt.Sprintf("key %q cannot verify %s", kid, alg))
		}
		return k.key, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method") {
			alg := "?"
			if t, _, perr := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{}); perr == nil {
				alg = t.Method.Alg()
			}
			return nil, fmt.Errorf("the token's algorithm %s is not accepted (accepted: %s)", alg, strings.Join(v.o.Algorithms, ", "))
		}
		return nil, tokenError(err)
	}
	out := &verified{claims: claims}
	out.subject, _ = claims["sub"].(string)
	sc, ok := claims[v.o.ScopeClaim]
	if !ok && v.o.ScopeClaim == "scope" {
		sc = claims["scp"]
	}
	out.scopes = stringList(sc)
	for _, f := range v.fwd {
		if val, ok := claimString(claims[f.claim]); ok {
			out.meta = append(out.meta, f.key, val)
		}
	}
	return out, nil
}

// keyError is why no key could verify a token.
type keyError string

func (e keyError) Error() string { return string(e) }

// tokenError turns the parser's error into a sentence for the caller.
func tokenError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("the bearer token is malformed")
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("the token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errors.New("the token is not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errors.New("the token's issuer is not accepted")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errors.New("the token's audience is not accepted")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("the token lacks a required claim (exp)")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("the token's signature is invalid")
	}
	var ke keyError
	if errors.As(err, &ke) {
		return fmt.Errorf("the token cannot be verified: %s", string(ke))
	}
	return fmt.Errorf("the token is invalid: %v", err)
}

func keyFits(alg string, key any) bool {
	switch {
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		_, ok := key.(*rsa.PublicKey)
		return ok
	case strings.HasPrefix(alg, "ES"):
		_, ok := key.(*ecdsa.PublicKey)
		return ok
	case alg == "EdDSA":
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func claimString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case float64:
		return fmt.Sprint(x), true
	case bool:
		return fmt.Sprint(x), true
	}
	return "", false
}
