package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
)

// Options configure bearer-token verification.
type Options struct {
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

// Verifier checks bearer tokens. Immutable; safe for concurrent use.
type Verifier struct {
	o      Options
	parser *gojwt.Parser
	fwd    []claimKey // sorted, for a stable metadata order
}

type claimKey struct{ claim, key string }

// Check reports what NewVerifier would refuse in o: algorithms
// missing, unknown or without their key source, forward_claims keys that
// are not valid metadata keys. publicKeys stands for o.Keys != nil, so a
// config can be checked before its key set is built.
func Check(o Options, publicKeys bool) error {
	if len(o.Algorithms) == 0 {
		return errors.New("policy: jwt: algorithms is required (e.g. [RS256])")
	}
	for _, a := range o.Algorithms {
		m := gojwt.GetSigningMethod(a)
		if m == nil || a == "none" {
			return fmt.Errorf("policy: jwt: unknown algorithm %q", a)
		}
		if strings.HasPrefix(a, "HS") {
			if len(o.HMACSecret) == 0 {
				return fmt.Errorf("policy: jwt: algorithm %s needs an HMAC secret", a)
			}
			if n := minHMACSecret[a]; len(o.HMACSecret) < n {
				return fmt.Errorf("policy: jwt: the HMAC secret has %d bytes; %s needs at least %d (RFC 7518 §3.2: a key as long as the hash), random", len(o.HMACSecret), a, n)
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

// minHMACSecret is the shortest secret each HMAC algorithm accepts: as
// many bytes as its hash has (RFC 7518 §3.2). A shorter one can be guessed
// offline from any token it signed.
var minHMACSecret = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// NewVerifier validates o (see Check).
func NewVerifier(o Options) (*Verifier, error) {
	if err := Check(o, o.Keys != nil); err != nil {
		return nil, err
	}
	if o.Leeway == 0 {
		o.Leeway = 30 * time.Second
	}
	if o.ScopeClaim == "" {
		o.ScopeClaim = "scope"
	}
	opts := []gojwt.ParserOption{
		gojwt.WithValidMethods(o.Algorithms),
		gojwt.WithLeeway(o.Leeway),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
	}
	if o.Issuer != "" {
		opts = append(opts, gojwt.WithIssuer(o.Issuer))
	}
	if len(o.Audiences) > 0 {
		opts = append(opts, gojwt.WithAudience(o.Audiences...))
	}
	v := &Verifier{o: o, parser: gojwt.NewParser(opts...)}
	for c, k := range o.ForwardClaims {
		v.fwd = append(v.fwd, claimKey{c, k})
	}
	sort.Slice(v.fwd, func(i, j int) bool { return v.fwd[i].claim < v.fwd[j].claim })
	return v, nil
}

// MetadataKeys lists the metadata keys this verifier writes.
func (v *Verifier) MetadataKeys() []string {
	out := make([]string, len(v.fwd))
	for i, f := range v.fwd {
		out[i] = f.key
	}
	return out
}

// Verified is what a good token tells the chain.
type Verified struct {
	// Subject is the sub claim; "" when the token has none.
	Subject string
	// Scopes are the scope claim's words (see Options.ScopeClaim).
	Scopes []string
	// Claims are all of the token's claims, as JSON decoded them.
	Claims map[string]any
	// Metadata are the forwarded claims as key, value pairs, in the
	// order of the claims' names; values are printable ASCII.
	Metadata []string
}

// Verify checks the token's signature with a key of an allowed algorithm,
// then exp, nbf, iat (with leeway), iss and aud. The error says why the
// token was refused, in words a caller can act on.
func (v *Verifier) Verify(ctx context.Context, token string) (*Verified, error) {
	claims := gojwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *gojwt.Token) (any, error) {
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
		if errors.Is(err, gojwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method") {
			alg := "?"
			if t, _, perr := gojwt.NewParser().ParseUnverified(token, gojwt.MapClaims{}); perr == nil {
				alg = t.Method.Alg()
			}
			return nil, fmt.Errorf("the token's algorithm %s is not accepted (accepted: %s)", alg, strings.Join(v.o.Algorithms, ", "))
		}
		if errors.Is(err, gojwt.ErrTokenRequiredClaimMissing) {
			return nil, v.missingClaim(token)
		}
		return nil, tokenError(err)
	}
	out := &Verified{Claims: claims}
	out.Subject, _ = claims["sub"].(string)
	sc, ok := claims[v.o.ScopeClaim]
	if !ok && v.o.ScopeClaim == "scope" {
		sc = claims["scp"]
	}
	out.Scopes = stringList(sc)
	for _, f := range v.fwd {
		if val, ok := claimString(claims[f.claim]); ok {
			if !printableASCII(val) {
				return nil, &ClaimError{Claim: f.claim, Key: f.key}
			}
			out.Metadata = append(out.Metadata, f.key, val)
		}
	}
	return out, nil
}

// ClaimError reports a verified token whose claim, chosen for forwarding,
// cannot travel as a gRPC metadata value: it holds a line break, another
// control character or a non-ASCII character. The caller should refuse the
// request (policy's authenticate stage answers 400 INVALID_ARGUMENT)
// rather than forward a cut or altered identity.
type ClaimError struct {
	// Claim is the claim's name, Key the metadata key it was to go to.
	Claim, Key string
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("the token's %q claim cannot be forwarded as metadata %q: metadata values must be printable ASCII, and this one holds a line break, a control character or a non-ASCII character", e.Claim, e.Key)
}

// printableASCII reports s made of bytes 0x20-0x7E only, what gRPC allows
// in a text metadata value.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// missingClaim names the required claim a verified token lacks: exp
// always, iss and aud when the verifier checks them.
func (v *Verifier) missingClaim(token string) error {
	claims := gojwt.MapClaims{}
	_, _, _ = gojwt.NewParser().ParseUnverified(token, claims)
	var missing []string
	if _, ok := claims["exp"]; !ok {
		missing = append(missing, "exp")
	}
	if iss, _ := claims["iss"].(string); v.o.Issuer != "" && iss == "" {
		missing = append(missing, "iss")
	}
	if aud, ok := claims["aud"]; len(v.o.Audiences) > 0 && (!ok || len(stringList(aud)) == 0) {
		missing = append(missing, "aud")
	}
	if len(missing) == 0 {
		return errors.New("the token lacks a required claim")
	}
	if len(missing) == 1 {
		return fmt.Errorf("the token lacks a required claim (%s)", missing[0])
	}
	return fmt.Errorf("the token lacks required claims (%s)", strings.Join(missing, ", "))
}

// keyError is why no key could verify a token.
type keyError string

func (e keyError) Error() string { return string(e) }

// tokenError turns the parser's error into a sentence for the caller.
func tokenError(err error) error {
	switch {
	case errors.Is(err, gojwt.ErrTokenMalformed):
		return errors.New("the bearer token is malformed")
	case errors.Is(err, gojwt.ErrTokenExpired):
		return errors.New("the token has expired")
	case errors.Is(err, gojwt.ErrTokenNotValidYet), errors.Is(err, gojwt.ErrTokenUsedBeforeIssued):
		return errors.New("the token is not valid yet")
	case errors.Is(err, gojwt.ErrTokenInvalidIssuer):
		return errors.New("the token's issuer is not accepted")
	case errors.Is(err, gojwt.ErrTokenInvalidAudience):
		return errors.New("the token's audience is not accepted")
	case errors.Is(err, gojwt.ErrTokenRequiredClaimMissing):
		return errors.New("the token lacks a required claim (exp)")
	case errors.Is(err, gojwt.ErrTokenSignatureInvalid):
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

// ClaimHas reports whether the claim value v (from Verified.Claims) is
// want: a string, number or boolean equal to it, or an array holding it.
// Safe for concurrent use.
func ClaimHas(v any, want string) bool {
	if s, ok := claimString(v); ok {
		return s == want
	}
	return slices.Contains(stringList(v), want)
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
