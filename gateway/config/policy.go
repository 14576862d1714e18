package config

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/refract-gateway/refract/policy"
)

// PolicyKeys are the top-level keys of the policy chain (inlined in
// Config). See the README's "Policies" section for every key.
type PolicyKeys struct {
	// AccessLog writes one JSON line per request; on by default.
	AccessLog AccessLogConfig `yaml:"access_log"`
	// RequestID keeps or makes X-Request-Id; default true.
	RequestID *bool `yaml:"request_id"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// CORS enables cross-origin requests from browsers (global only: a
	// preflight is answered before any route is matched).
	CORS *CORSConfig `yaml:"cors"`
	// APIKeys says where consumers' API keys travel.
	APIKeys APIKeysConfig `yaml:"api_keys"`
	// Consumers are the named API clients.
	Consumers []ConsumerConfig `yaml:"consumers"`
	// JWT verifies bearer tokens.
	JWT *JWTConfig `yaml:"jwt"`
	// Redis shares rate limits between gateway instances.
	Redis *RedisConfig `yaml:"redis"`
	// Policies apply to every route unless an upstream or route overrides.
	Policies Policies `yaml:"policies"`
	// Products serve sets of upstreams on their own listeners or host
	// names, with their own policies (products.go).
	Products []ProductConfig `yaml:"products"`
	// ExtAuthz is the external authorizer routes may ask (extauthz.go).
	ExtAuthz *ExtAuthzConfig `yaml:"ext_authz"`
}

// UpstreamPolicyKeys are an upstream's policy keys (inlined in Upstream).
type UpstreamPolicyKeys struct {
	// Expose, when set, publishes only the methods matching one of these
	// globs; Hide unpublishes matching methods. A hidden method has no
	// route at all (404 like an unknown path).
	Expose []string `yaml:"expose"`
	Hide   []string `yaml:"hide"`
	// Policies override the global ones for this upstream's routes.
	Policies Policies `yaml:"policies"`
	// Routes override policies for some routes, selected by method glob
	// ("library.v1.LibraryService.Delete*") or route ("DELETE /v1/{name=shelves/*/books/*}").
	Routes []RoutePolicies `yaml:"routes"`
	// Validate checks requests against their buf.validate rules at the
	// edge; default true.
	Validate *bool `yaml:"validate"`
	// PathPrefix mounts the upstream's routes under literal segments
	// (/orders: GET /v1/items is served as GET /orders/v1/items).
	PathPrefix string `yaml:"path_prefix"`
	// Subsets name parts of the upstream's endpoints for splits.
	Subsets []SubsetConfig `yaml:"subsets"`
}

// RoutePolicies attaches policies to the routes Match selects.
type RoutePolicies struct {
	Match    string   `yaml:"match"`
	Policies Policies `yaml:"policies"`
}

// Policies are the per-route policies, at any level. Precedence is global
// < upstream < route: auth, require and max_body_bytes set at a more
// specific level replace the less specific value; ip rules and
// rate_limits add up (each is counted or checked in the scope where it is
// declared).
type Policies struct {
	IP *IPRules `yaml:"ip"`
	// MaxBodyBytes lowers the gateway's max_body_bytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Auth lists accepted credentials: api_key, jwt, or none (public).
	Auth []string `yaml:"auth"`
	// Require is what a bearer token must carry.
	Require *RequireConfig `yaml:"require"`
	// RateLimits are token buckets keyed by ip, consumer, subject or route.
	RateLimits []RateLimitConfig `yaml:"rate_limits"`
	// ExtAuthz asks the external authorizer before the call.
	ExtAuthz *bool `yaml:"ext_authz"`
	// Resilience: timeout, breaker, retry, fallback and split.
	Resilience `yaml:",inline"`
}

// IPRules admit clients by address (CIDRs or addresses); deny wins.
type IPRules struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// RequireConfig is a route's authorization on JWT scopes and claims.
type RequireConfig struct {
	Scopes []string          `yaml:"scopes"`
	Claims map[string]string `yaml:"claims"`
}

// RateLimitConfig is one rate limit.
type RateLimitConfig struct {
	Name  string   `yaml:"name"`
	Key   string   `yaml:"key"` // ip (default), consumer, subject, route
	Rate  int      `yaml:"rate"`
	Per   Duration `yaml:"per"`
	Burst int      `yaml:"burst"`
	// Shared counts in Redis (needs the redis key) instead of in-process.
	Shared bool `yaml:"shared"`
}

// AccessLogConfig configures the access log.
type AccessLogConfig struct {
	Enabled *bool   `yaml:"enabled"` // default true
	Sample  float64 `yaml:"sample"`  // fraction of successes logged; default 1
}

// CORSConfig is the cross-origin policy.
type CORSConfig struct {
	AllowedOrigins   []string `yaml:"allowed_origins"`
	AllowedMethods   []string `yaml:"allowed_methods"`
	AllowedHeaders   []string `yaml:"allowed_headers"`
	ExposedHeaders   []string `yaml:"exposed_headers"`
	AllowCredentials bool     `yaml:"allow_credentials"`
	MaxAge           Duration `yaml:"max_age"`
}

// APIKeysConfig says where API keys travel.
type APIKeysConfig struct {
	Header      string `yaml:"header"`       // default X-Api-Key
	Query       string `yaml:"query"`        // off unless set
	MetadataKey string `yaml:"metadata_key"` // default x-consumer
}

// ConsumerConfig is one API consumer.
type ConsumerConfig struct {
	Name  string           `yaml:"name"`
	Keys  []SecretConfig   `yaml:"keys"`
	Allow []string         `yaml:"allow"`
	Quota *RateLimitConfig `yaml:"quota"`
}

// SecretConfig is a secret from exactly one place: value (inline), env,
// file, or (for API keys) sha256, the hex digest of the key.
type SecretConfig struct {
	Value  string `yaml:"value"`
	Env    string `yaml:"env"`
	File   string `yaml:"file"`
	SHA256 string `yaml:"sha256"`
}

// JWTConfig verifies bearer tokens.
type JWTConfig struct {
	Algorithms    []string          `yaml:"algorithms"`
	Issuer        string            `yaml:"issuer"`
	Audiences     []string          `yaml:"audiences"`
	Leeway        Duration          `yaml:"leeway"`
	JWKSURL       string            `yaml:"jwks_url"`
	JWKSFile      string            `yaml:"jwks_file"`
	JWKSRefresh   Duration          `yaml:"jwks_refresh"`
	HMACSecret    *SecretConfig     `yaml:"hmac_secret"`
	ForwardClaims map[string]string `yaml:"forward_claims"`
	ScopeClaim    string            `yaml:"scope_claim"`
}

// RedisConfig is the Redis that shared rate limits count in.
type RedisConfig struct {
	Addr     string        `yaml:"addr"`
	Username string        `yaml:"username"`
	Password *SecretConfig `yaml:"password"`
	DB       int           `yaml:"db"`
	Prefix   string        `yaml:"prefix"`
	Timeout  Duration      `yaml:"timeout"`
	// OnError is "open" (admit, the default) or "closed" (503) when Redis
	// fails.
	OnError string `yaml:"on_error"`
}

// read returns the secret's bytes (for sha256: the digest, decoded).
func (s SecretConfig) Read() ([]byte, error) {
	n := 0
	for _, v := range []string{s.Value, s.Env, s.File, s.SHA256} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("exactly one of value, env, file, sha256 is required (found %d)", n)
	}
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return []byte(v), nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return nil, err
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return nil, fmt.Errorf("%s is empty", s.File)
		}
		return []byte(v), nil
	case s.SHA256 != "":
		d, err := hex.DecodeString(s.SHA256)
		if err != nil || len(d) != 32 {
			return nil, fmt.Errorf("sha256 must be 64 hex digits")
		}
		return d, nil
	}
	return []byte(s.Value), nil
}

// keyHash is the stored digest of an API key secret.
func (s SecretConfig) KeyHash() ([32]byte, error) {
	b, err := s.Read()
	if err != nil {
		return [32]byte{}, err
	}
	if s.SHA256 != "" {
		return [32]byte(b), nil
	}
	return policy.HashKey(string(b)), nil
}
