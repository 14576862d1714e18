package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/config/bodyformats"
	"github.com/refract-gateway/refract/gateway/config/extauthz"
	"github.com/refract-gateway/refract/gateway/config/transformcfg"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/policy/logqueue"
)

// PolicyKeys are the top-level keys of the policy chain (inlined in
// Config). docs/policies.md describes every key.
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
	// names, with their own policies (see ProductConfig).
	Products []ProductConfig `yaml:"products"`
	// ExtAuthz is the external authorizer routes may ask.
	ExtAuthz *extauthz.Authorizer `yaml:"ext_authz"`
	// Checks are the named pre-call checks routes may ask in parallel
	// (see CheckConfig).
	Checks []CheckConfig `yaml:"checks"`
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

// RoutePolicies attaches policies to the routes Match or Method selects
// (exactly one): Match is a route as mounted ("GET /v1/{name=shelves/*}")
// or, without a space, a method glob; Method is a method glob, which
// covers every route (HTTP binding) of the methods it matches.
type RoutePolicies struct {
	// Match selects routes as mounted: "GET /v1/{name=shelves/*}" (as
	// /admin/routes lists them), or without a space a method glob.
	Match string `yaml:"match"`
	// Method selects every route of the methods a glob matches
	// ("library.v1.LibraryService.Delete*").
	Method string `yaml:"method"`
	// Policies apply to the selected routes, over the upstream's.
	Policies Policies `yaml:"policies"`
}

// checkSelector reports a route entry's selector that cannot select any
// route whatever the upstream serves: neither or both of match and
// method, a glob that does not parse, a route that is not an HTTP method
// and a path, or a path outside the upstream's path_prefix.
func (rp RoutePolicies) checkSelector(u Upstream) (string, error) {
	switch {
	case rp.Match == "" && rp.Method == "":
		return "match", errors.New("required: match (a route such as \"GET /v1/shelves\", as /admin/routes lists it) or method (a method glob)")
	case rp.Match != "" && rp.Method != "":
		return "method", errors.New("match and method exclude each other")
	case rp.Method != "" || !strings.Contains(rp.Match, " "):
		key, glob := "method", rp.Method
		if glob == "" {
			key, glob = "match", rp.Match
		}
		if strings.ContainsAny(glob, " /") {
			return key, fmt.Errorf("%q is not a method glob (package.Service.Method)", glob)
		}
		_, err := policy.NewGlobs([]string{glob})
		return key, err
	}
	verb, path, _ := strings.Cut(rp.Match, " ")
	if !httpMethodToken.MatchString(verb) || !strings.HasPrefix(path, "/") || strings.Contains(path, " ") {
		return "match", fmt.Errorf("%q is not a route: write the HTTP method, one space and the path template as /admin/routes lists them (\"GET /v1/{name=shelves/*}\")", rp.Match)
	}
	if pre := u.PathPrefix; pre != "" && path != pre && !strings.HasPrefix(path, pre+"/") {
		return "match", fmt.Errorf("%q selects no route: the upstream's routes are mounted under its path_prefix %s", rp.Match, pre)
	}
	return "", nil
}

// httpMethodToken is an upper-case HTTP method as routes are mounted.
var httpMethodToken = regexp.MustCompile(`^[A-Z][A-Z0-9_-]*$`)

// Policies are the per-route policies, at any level. Precedence is global
// < upstream < route: auth, require and max_body_bytes set at a more
// specific level replace the less specific value; ip rules and
// rate_limits add up (each is counted or checked in the scope where it is
// declared).
type Policies struct {
	// IP admits or refuses clients by address (403).
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
	// Checks names the checks asked in parallel before the call; the
	// most specific level's list replaces the others ([] asks none).
	Checks []string `yaml:"checks"`
	// AuthFailures limits failed authentications per client network
	// (top-level policies only; off when absent).
	AuthFailures *AuthFailuresConfig `yaml:"auth_failures"`
	// Transform reshapes requests, responses and errors
	// (docs/transform.md); levels add up.
	Transform *transformcfg.Transform `yaml:"transform"`
	// BodyFormats lets routes take form, multipart and XML bodies.
	BodyFormats *bodyformats.Formats `yaml:"body_formats"`
	// Resilience: timeout, breaker, retry, fallback and split.
	Resilience `yaml:",inline"`
}

// IPRules admit clients by address (CIDRs or addresses); deny wins.
type IPRules struct {
	// Allow, when set, admits only these CIDRs or addresses.
	Allow []string `yaml:"allow"`
	// Deny refuses these CIDRs or addresses, even when allowed.
	Deny []string `yaml:"deny"`
}

// RequireConfig is a route's authorization on JWT scopes and claims.
type RequireConfig struct {
	// Scopes the token must all carry (in jwt.scope_claim); else 403.
	Scopes []string `yaml:"scopes"`
	// Claims the token must carry with exactly these values; else 403.
	Claims map[string]string `yaml:"claims"`
}

// RateLimitConfig is one rate limit.
type RateLimitConfig struct {
	// Name labels the limit in errors and metrics.
	Name string `yaml:"name"`
	// Key is what a bucket counts: ip (the default), consumer, subject
	// (the JWT's sub) or route.
	Key string `yaml:"key"`
	// Rate is how many requests a bucket admits per Per; required.
	Rate int `yaml:"rate"`
	// Per is the period Rate counts over, e.g. 1s or 1h; required.
	Per Duration `yaml:"per"`
	// Burst is how many requests a full bucket admits at once; default
	// Rate.
	Burst int `yaml:"burst"`
	// Shared counts in Redis (needs the redis key) instead of in-process.
	Shared bool `yaml:"shared"`
	// IPv6Prefix is how many leading bits of an IPv6 client address key
	// its bucket (by ip, and consumer or subject falling back to ip):
	// default 64, one bucket per /64; 128 the whole address.
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// AuthFailuresConfig limits failed authentications (401s) per client
// network: rate per per, burst defaulting to rate; shared counts in Redis.
type AuthFailuresConfig struct {
	// Rate is how many failed authentications a client network may make
	// per Per; more get 429 until the bucket refills.
	Rate int `yaml:"rate"`
	// Per is the period Rate counts over.
	Per Duration `yaml:"per"`
	// Burst is how many failures a full bucket absorbs; default Rate.
	Burst int `yaml:"burst"`
	// Shared counts in Redis (needs the redis key) instead of in-process.
	Shared bool `yaml:"shared"`
	// IPv6Prefix as a rate limit's: default 64.
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// RateLimit is the same limit as a rate limit keyed by ip.
func (a AuthFailuresConfig) RateLimit() RateLimitConfig {
	return RateLimitConfig{Key: "ip", Rate: a.Rate, Per: a.Per, Burst: a.Burst, Shared: a.Shared, IPv6Prefix: a.IPv6Prefix}
}

// AccessLogConfig configures the access log.
type AccessLogConfig struct {
	// Enabled writes the access log; default true.
	Enabled *bool `yaml:"enabled"`
	// Sample is the fraction of successful requests logged (failures
	// always are); default 1.
	Sample float64 `yaml:"sample"`
	// QueueLines is how many lines may wait for the log output: lines are
	// written off the request path, in batches, each within 10ms of being
	// logged unless the output is slower; past this many waiting a line is
	// dropped and counted (refract_access_log_dropped_lines_total, and a
	// warning in the log). Default 16384, at most 1048576.
	QueueLines int `yaml:"queue_lines"`
}

// CORSConfig is the cross-origin policy.
type CORSConfig struct {
	// AllowedOrigins are the origins browsers may call from: exact, or
	// wildcard subdomains (https://*.example.org).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedMethods may be used cross-origin; default [GET, POST, PUT,
	// PATCH, DELETE].
	AllowedMethods []string `yaml:"allowed_methods"`
	// AllowedHeaders may be sent cross-origin; default [Content-Type,
	// Authorization, X-Request-Id].
	AllowedHeaders []string `yaml:"allowed_headers"`
	// ExposedHeaders are the response headers scripts may read.
	ExposedHeaders []string `yaml:"exposed_headers"`
	// AllowCredentials lets browsers send cookies and credentials (not
	// with the origin "*").
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long browsers may cache a preflight's answer.
	MaxAge Duration `yaml:"max_age"`
}

// APIKeysConfig says where API keys travel.
type APIKeysConfig struct {
	// Header carries the key; default X-Api-Key.
	Header string `yaml:"header"`
	// Query names a query parameter that may carry the key instead; off
	// unless set.
	Query string `yaml:"query"`
	// MetadataKey is the metadata key that tells the backend the
	// consumer's name; default x-consumer.
	MetadataKey string `yaml:"metadata_key"`
}

// ConsumerConfig is one API consumer.
type ConsumerConfig struct {
	// Name identifies the consumer to the backend, in logs and in
	// rate-limit keys; required.
	Name string `yaml:"name"`
	// Keys are the consumer's API keys (several, to rotate them).
	Keys []SecretConfig `yaml:"keys"`
	// Allow, when set, lists the method globs the consumer may call;
	// others get 403.
	Allow []string `yaml:"allow"`
	// Quota is the consumer's own limit over all its calls.
	Quota *RateLimitConfig `yaml:"quota"`
}

// SecretConfig is a secret from exactly one place: value (inline), env,
// file, or (for API keys) sha256, the hex digest of the key.
type SecretConfig struct {
	// Value is the secret itself, in the file.
	Value string `yaml:"value"`
	// Env names the environment variable holding it.
	Env string `yaml:"env"`
	// File names a file holding it (a trailing newline is ignored).
	File string `yaml:"file"`
	// SHA256 is the hex SHA-256 digest of an API key or token, so the
	// file need not hold the key.
	SHA256 string `yaml:"sha256"`
}

// JWTConfig verifies bearer tokens.
type JWTConfig struct {
	// Algorithms are the only signing algorithms accepted (RS256, ES256,
	// EdDSA, HS256 …); required: a token's own alg never widens them.
	Algorithms []string `yaml:"algorithms"`
	// Issuer, when set, is the iss a token must carry.
	Issuer string `yaml:"issuer"`
	// Audiences, when set: a token's aud must hold one of them.
	Audiences []string `yaml:"audiences"`
	// Leeway is the clock skew allowed on exp, nbf and iat; default 30s.
	Leeway Duration `yaml:"leeway"`
	// JWKSURL is fetched for the verification keys, and refreshed in the
	// background.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSFile is a JWK set file with the verification keys.
	JWKSFile string `yaml:"jwks_file"`
	// JWKSRefresh is how often jwks_url is fetched again; default 5m.
	JWKSRefresh Duration `yaml:"jwks_refresh"`
	// HMACSecret is the key of HS256/384/512 tokens.
	HMACSecret *SecretConfig `yaml:"hmac_secret"`
	// ForwardClaims maps claims to the metadata keys they reach the
	// backend as (client headers of those names are dropped).
	ForwardClaims map[string]string `yaml:"forward_claims"`
	// ScopeClaim names the claim holding scopes (a space-separated string
	// or an array); default scope, then scp.
	ScopeClaim string `yaml:"scope_claim"`
}

// RedisConfig is the Redis that shared rate limits count in.
type RedisConfig struct {
	// Addr is the server's host:port; required.
	Addr string `yaml:"addr"`
	// Username for Redis ACLs.
	Username string `yaml:"username"`
	// Password authenticates to Redis.
	Password *SecretConfig `yaml:"password"`
	// DB is the database number; default 0.
	DB int `yaml:"db"`
	// Prefix namespaces the limiter's keys; default "refract:rl:".
	Prefix string `yaml:"prefix"`
	// Timeout bounds one limiter call, so a slow Redis cannot hold
	// requests; default 100ms.
	Timeout Duration `yaml:"timeout"`
	// OnError is "open" (admit, the default) or "closed" (503) when Redis
	// fails.
	OnError string `yaml:"on_error"`
}

// Read returns the secret's bytes (for sha256: the digest, decoded),
// reading the variable or file it names; exactly one source must be set.
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

// KeyHash is the stored digest of an API key secret (see Read).
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

// Limit is the rate limit's policy.Limit.
func (rc RateLimitConfig) Limit() policy.Limit {
	return policy.Limit{Rate: rc.Rate, Period: time.Duration(rc.Per), Burst: rc.Burst}
}

// Check reports a rate limit whose key is unknown or whose rate, per or
// burst are out of range; it returns what the key counts by.
func (rc RateLimitConfig) Check() (policy.KeyBy, error) {
	by, err := policy.ParseKeyBy(rc.Key)
	if err != nil {
		return by, err
	}
	if rc.Rate <= 0 || rc.Per <= 0 || rc.Burst < 0 {
		return by, errors.New("rate and per must be positive (e.g. rate: 100, per: 1s), burst not negative")
	}
	if rc.IPv6Prefix < 0 || rc.IPv6Prefix > 128 {
		return by, fmt.Errorf("ipv6_prefix %d is not a prefix length from 1 to 128 (default 64)", rc.IPv6Prefix)
	}
	return by, nil
}

// validatePolicies checks the policy keys: everything the gateway builds
// from them, without building it. It reads the secrets and JWKS file the
// config names (their presence is part of the config), and dials nothing.
func (c *Config) validatePolicies() []error {
	var errs []error
	bad := func(key string, err error) {
		errs = append(errs, fmt.Errorf("config: %s: %w", key, err))
	}
	k := &c.PolicyKeys
	redis := false
	if r := k.Redis; r != nil {
		switch r.OnError {
		case "", "open", "closed":
		default:
			bad("redis.on_error", fmt.Errorf("%q is not open or closed", r.OnError))
		}
		if r.Password != nil {
			if _, err := r.Password.Read(); err != nil {
				bad("redis.password", err)
			}
		}
		if err := (policy.RedisOptions{Addr: r.Addr}).Validate(); err != nil {
			bad("redis", err)
		} else {
			redis = true
		}
	}
	store := func(key string, shared bool) {
		if shared && !redis {
			bad(key+".shared", errors.New("shared limits need the redis key"))
		}
	}
	level := func(key string, pc Policies) {
		if pc.IP != nil {
			_, err1 := policy.ParsePrefixes(pc.IP.Allow)
			_, err2 := policy.ParsePrefixes(pc.IP.Deny)
			if err := errors.Join(err1, err2); err != nil {
				bad(key+".ip", err)
			}
		}
		if pc.MaxBodyBytes < 0 {
			bad(key+".max_body_bytes", errors.New("must be positive"))
		}
		if pc.BodyFormats != nil {
			pc.BodyFormats.Check(key, bad)
		}
		for _, a := range pc.Auth {
			switch a {
			case "api_key":
				if len(k.Consumers) == 0 {
					bad(key+".auth", errors.New("api_key needs consumers"))
				}
			case "jwt":
				if k.JWT == nil {
					bad(key+".auth", errors.New("jwt needs the jwt key"))
				}
			case "none":
				if len(pc.Auth) > 1 {
					bad(key+".auth", errors.New("none excludes other methods"))
				}
			default:
				bad(key+".auth", fmt.Errorf("%q is not api_key, jwt or none", a))
			}
		}
		if pc.Require != nil && k.JWT == nil {
			bad(key+".require", errors.New("scopes and claims need the jwt key"))
		}
		for i, rc := range pc.RateLimits {
			rk := fmt.Sprintf("%s.rate_limits[%d]", key, i)
			if _, err := rc.Check(); err != nil {
				bad(rk, err)
				continue
			}
			store(rk, rc.Shared)
		}
		pc.Transform.Validate(key+".transform", bad)
		if af := pc.AuthFailures; af != nil {
			ak := key + ".auth_failures"
			switch _, err := af.RateLimit().Check(); {
			case key != "policies":
				bad(ak, errors.New("failed authentications are counted per client across the gateway: set auth_failures under the top-level policies"))
			case err != nil:
				bad(ak, err)
			default:
				store(ak, af.Shared)
			}
		}
	}

	if err := (policy.AccessLogOptions{Sample: k.AccessLog.Sample}).Validate(); err != nil {
		bad("access_log.sample", err)
	}
	if q := k.AccessLog.QueueLines; q < 0 || q > 1<<20 {
		bad("access_log.queue_lines", fmt.Errorf("%d is not between 0 (the default, %d) and 1048576", q, logqueue.DefaultLines))
	}
	if _, err := policy.ParsePrefixes(k.TrustedProxies); err != nil {
		bad("trusted_proxies", err)
	}
	if cc := k.CORS; cc != nil {
		if err := cc.CORSOptions().Validate(); err != nil {
			bad("cors", err)
		}
	}
	level("policies", k.Policies)
	validateResilience("policies", k.Policies.Resilience, nil, true, bad)

	metaKeyOK := true
	if mk := k.APIKeys.MetadataKey; mk != "" {
		if err := (policy.ConsumersOptions{MetadataKey: mk}).Validate(); err != nil {
			metaKeyOK = false
			bad("api_keys.metadata_key", err)
		}
	}
	if len(k.Consumers) > 0 {
		before := len(errs)
		opts := k.APIKeys.ConsumersOptions()
		if !metaKeyOK {
			opts.MetadataKey = "" // reported above
		}
		for i, cc := range k.Consumers {
			ck := fmt.Sprintf("consumers[%d]", i)
			co := cc.Options(ck, bad)
			if co.Quota != nil {
				store(ck+".quota", cc.Quota.Shared)
			}
			opts.Consumers = append(opts.Consumers, co)
		}
		// A key that could not be read would make its consumer look
		// keyless: report the consumers only when every key was read.
		if err := opts.Validate(); err != nil && len(errs) == before {
			bad("consumers", err)
		}
	}
	if j := k.JWT; j != nil {
		jo := j.JWTOptions()
		if j.HMACSecret != nil {
			var err error
			if jo.HMACSecret, err = j.HMACSecret.Read(); err != nil {
				bad("jwt.hmac_secret", err)
			}
		}
		keys := false
		switch {
		case j.JWKSURL != "" && j.JWKSFile != "":
			bad("jwt", errors.New("jwks_url and jwks_file exclude each other"))
		case j.JWKSURL != "":
			keys = true
		case j.JWKSFile != "":
			doc, err := os.ReadFile(j.JWKSFile)
			if err == nil {
				err = jwt.CheckJWKS(doc)
			}
			if err != nil {
				bad("jwt.jwks_file", err)
			}
			keys = err == nil
		}
		if err := jwt.Check(jo, keys); err != nil {
			bad("jwt", err)
		}
	}

	for i, u := range c.Upstreams {
		uk := fmt.Sprintf("upstreams[%d]", i)
		if _, err := policy.NewGlobs(u.Expose); err != nil {
			bad(uk+".expose", err)
		}
		if _, err := policy.NewGlobs(u.Hide); err != nil {
			bad(uk+".hide", err)
		}
		level(uk+".policies", u.Policies)
		subsets := ValidateSubsets(uk, u, bad)
		validateResilience(uk+".policies", u.Policies.Resilience, subsets, false, bad)
		for j, rp := range u.Routes {
			rk := fmt.Sprintf("%s.routes[%d]", uk, j)
			level(rk+".policies", rp.Policies)
			validateResilience(rk+".policies", rp.Policies.Resilience, subsets, false, bad)
			if key, err := rp.checkSelector(u); err != nil {
				bad(rk+"."+key, err)
			}
		}
	}
	for i, a := range c.Aggregates {
		level(fmt.Sprintf("aggregates[%d].policies", i), a.Policies)
	}
	CheckExtAuthzUse(c, bad)
	c.validateChecks(bad)
	ValidateProducts(c, bad)
	for i, pc := range c.Products {
		pk := fmt.Sprintf("products[%d].policies", i)
		level(pk, pc.Policies)
		validateResilience(pk, pc.Policies.Resilience, nil, false, bad)
	}
	if ea := k.ExtAuthz; ea != nil {
		if err := ea.Check(); err != nil {
			bad("ext_authz", err)
		}
	}
	return errs
}

// CORSOptions are the policy.CORSOptions the cors keys describe.
func (cc *CORSConfig) CORSOptions() policy.CORSOptions {
	return policy.CORSOptions{AllowedOrigins: cc.AllowedOrigins, AllowedMethods: cc.AllowedMethods,
		AllowedHeaders: cc.AllowedHeaders, ExposedHeaders: cc.ExposedHeaders, AllowCredentials: cc.AllowCredentials,
		MaxAge: time.Duration(cc.MaxAge)}
}

// Options is the consumer as policy.NewConsumers takes it, but for its
// quota's store (runtime state the caller adds): its name, allow list,
// key digests and quota. A key that cannot be read, or a quota whose rate
// or period is not positive, is reported to bad under key (the consumer's
// key path) and left out.
func (c ConsumerConfig) Options(key string, bad func(key string, err error)) policy.ConsumerOptions {
	co := policy.ConsumerOptions{Name: c.Name, Allow: c.Allow}
	for j, s := range c.Keys {
		h, err := s.KeyHash()
		if err != nil {
			bad(fmt.Sprintf("%s.keys[%d]", key, j), err)
			continue
		}
		co.KeyHashes = append(co.KeyHashes, h)
	}
	if q := c.Quota; q != nil {
		if q.Rate <= 0 || q.Per <= 0 {
			bad(key+".quota", errors.New("rate and per must be positive"))
		} else {
			co.Quota = Ptr(q.Limit())
		}
	}
	return co
}

// ConsumersOptions are the policy.ConsumersOptions of the api_keys keys,
// without consumers.
func (a APIKeysConfig) ConsumersOptions() policy.ConsumersOptions {
	return policy.ConsumersOptions{Header: a.Header, Query: a.Query, MetadataKey: a.MetadataKey}
}

// JWTOptions are the jwt.Options the jwt keys describe, without the
// HMAC secret and the key set, which are read or fetched.
func (j *JWTConfig) JWTOptions() jwt.Options {
	return jwt.Options{Algorithms: j.Algorithms, Issuer: j.Issuer, Audiences: j.Audiences,
		Leeway: time.Duration(j.Leeway), ForwardClaims: j.ForwardClaims, ScopeClaim: j.ScopeClaim}
}
