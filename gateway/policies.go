package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// policies is the gateway's compiled policy configuration: the pieces built
// once (consumers, JWT verifier, limiter stores, rules) from which the edge
// chain and every route's chain are assembled. Rate-limit state lives in the
// stores, so it survives route rebuilds. Immutable after buildPolicies but
// for the stores' buckets.
type policies struct {
	log       zerolog.Logger
	edge      policy.Set
	consumers *policy.Consumers
	jwt       *policy.JWTVerifier
	jwks      *policy.JWKS // refreshed in the background when fetched by URL
	local     *policy.LocalLimiter
	redis     *policy.RedisLimiter
	global    levelPolicies
	upstreams map[string]*upstreamPolicies
	// identityKeys are the metadata keys only authentication may set; the
	// same keys sent by a client are dropped.
	identityKeys []string
	// res holds breakers and retry budgets (resilience.go).
	res *resilienceState
	// extAuthz is the external authorizer; extAuthzConn its gRPC connection.
	extAuthz     *policy.ExtAuthz
	extAuthzConn *grpc.ClientConn
	// validation checks requests' buf.validate rules (validate.go).
	validation edgeValidation
	// products: each product's policy level, the product of each upstream
	// and of each host name (products.go).
	products      map[string]*levelPolicies
	productOf     map[string]string
	productByHost map[string]string
}

// levelPolicies is one level's Policies with its rate-limit rules and IP
// filter built.
type levelPolicies struct {
	cfg   config.Policies
	ip    policy.Policy
	rules []policy.Rule
	res   resilienceLevel
}

type upstreamPolicies struct {
	levelPolicies
	routes []routeLevel
}

type routeLevel struct {
	levelPolicies
	match string
	glob  policy.Globs // method glob, or nil when match names a route
}

func nopLogger() zerolog.Logger { return zerolog.Nop() }

// buildPolicies builds every policy piece from cfg, reporting every
// problem with its key.
func buildPolicies(cfg *config.Config, log zerolog.Logger) (*policies, error) {
	p := &policies{log: log, upstreams: map[string]*upstreamPolicies{}}
	p.validation.log = log.With().Str("component", "validate").Logger()
	p.local = policy.NewLocalLimiter(time.Minute, nil)
	p.res = newResilienceState(func(name, from, to string) {
		log.Warn().Str("component", "breaker").Str("breaker", name).Str("from", from).Str("to", to).Msg("circuit breaker state changed")
	})
	var errs []error
	bad := func(key string, err error) {
		errs = append(errs, fmt.Errorf("config: %s: %w", key, err))
	}
	k := &cfg.PolicyKeys

	onErrorOpen := true
	if r := k.Redis; r != nil {
		switch r.OnError {
		case "", "open":
		case "closed":
			onErrorOpen = false
		default:
			bad("redis.on_error", fmt.Errorf("%q is not open or closed", r.OnError))
		}
		var pw []byte
		if r.Password != nil {
			var err error
			if pw, err = r.Password.Read(); err != nil {
				bad("redis.password", err)
			}
		}
		rl, err := policy.NewRedisLimiter(policy.RedisOptions{Addr: r.Addr, Username: r.Username, Password: string(pw),
			DB: r.DB, Prefix: r.Prefix, Timeout: time.Duration(r.Timeout)})
		if err != nil {
			bad("redis", err)
		}
		p.redis = rl
	}
	store := func(key string, shared bool) policy.Limiter {
		if !shared {
			return p.local
		}
		if p.redis == nil {
			bad(key+".shared", errors.New("shared limits need the redis key"))
			return p.local
		}
		return p.redis
	}
	buildRule := func(key string, rc config.RateLimitConfig) (policy.Rule, error) {
		by, err := policy.ParseKeyBy(rc.Key)
		if err != nil {
			return policy.Rule{}, err
		}
		if rc.Rate <= 0 || rc.Per <= 0 || rc.Burst < 0 {
			return policy.Rule{}, errors.New("rate and per must be positive (e.g. rate: 100, per: 1s), burst not negative")
		}
		name := rc.Name
		if name == "" {
			name = key
		}
		return policy.Rule{Name: name, By: by, Limit: policy.Limit{Rate: rc.Rate, Period: time.Duration(rc.Per), Burst: rc.Burst},
			Store: store(key, rc.Shared), FailOpen: onErrorOpen}, nil
	}
	level := func(key string, pc config.Policies) levelPolicies {
		lp := levelPolicies{cfg: pc}
		if pc.IP != nil {
			allow, err1 := policy.ParsePrefixes(pc.IP.Allow)
			deny, err2 := policy.ParsePrefixes(pc.IP.Deny)
			if err := errors.Join(err1, err2); err != nil {
				bad(key+".ip", err)
			}
			lp.ip = policy.IPFilter(allow, deny)
		}
		if pc.MaxBodyBytes < 0 {
			bad(key+".max_body_bytes", errors.New("must be positive"))
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
			r, err := buildRule(rk, rc)
			if err != nil {
				bad(rk, err)
				continue
			}
			lp.rules = append(lp.rules, r)
		}
		return lp
	}

	// edge: recover → request id → access log → client IP → IP filter → CORS
	p.edge.Put(policy.StageRecover, policy.Recover(log))
	if k.RequestID == nil || *k.RequestID {
		p.edge.Put(policy.StageRequestID, policy.RequestID())
	}
	if k.AccessLog.Enabled == nil || *k.AccessLog.Enabled {
		al, err := policy.AccessLog(policy.AccessLogOptions{Logger: log.With().Str("component", "access").Logger(), Sample: k.AccessLog.Sample})
		if err != nil {
			bad("access_log.sample", err)
		}
		p.edge.Put(policy.StageAccessLog, al)
	}
	trusted, err := policy.ParsePrefixes(k.TrustedProxies)
	if err != nil {
		bad("trusted_proxies", err)
	}
	p.edge.Put(policy.StageClientIP, policy.ClientIP(trusted))
	if c := k.CORS; c != nil {
		cp, err := policy.CORS(policy.CORSOptions{AllowedOrigins: c.AllowedOrigins, AllowedMethods: c.AllowedMethods,
			AllowedHeaders: c.AllowedHeaders, ExposedHeaders: c.ExposedHeaders, AllowCredentials: c.AllowCredentials,
			MaxAge: time.Duration(c.MaxAge)})
		if err != nil {
			bad("cors", err)
		}
		p.edge.Put(policy.StageCORS, cp)
	}
	p.global = level("policies", k.Policies)
	p.global.res = buildResilience("policies", k.Policies.Resilience, nil, true, bad)
	// Global IP rules run at the edge, before the route match, so a denied
	// client cannot even learn which paths exist.
	p.edge.Put(policy.StageIPFilter, p.global.ip)

	if len(k.Consumers) > 0 {
		opts := policy.ConsumersOptions{Header: k.APIKeys.Header, Query: k.APIKeys.Query, MetadataKey: k.APIKeys.MetadataKey}
		for i, c := range k.Consumers {
			ck := fmt.Sprintf("consumers[%d]", i)
			co := policy.ConsumerOptions{Name: c.Name, Allow: c.Allow}
			for j, s := range c.Keys {
				h, err := s.KeyHash()
				if err != nil {
					bad(fmt.Sprintf("%s.keys[%d]", ck, j), err)
					continue
				}
				co.KeyHashes = append(co.KeyHashes, h)
			}
			if q := c.Quota; q != nil {
				if q.Rate <= 0 || q.Per <= 0 {
					bad(ck+".quota", errors.New("rate and per must be positive"))
				} else {
					co.Quota = &policy.Limit{Rate: q.Rate, Period: time.Duration(q.Per), Burst: q.Burst}
					co.QuotaStore, co.QuotaFailOpen = store(ck+".quota", q.Shared), onErrorOpen
				}
			}
			opts.Consumers = append(opts.Consumers, co)
		}
		if p.consumers, err = policy.NewConsumers(opts); err != nil && len(errs) == 0 {
			bad("consumers", err)
		}
		if p.consumers != nil {
			p.identityKeys = append(p.identityKeys, p.consumers.MetadataKey())
		}
	}
	if j := k.JWT; j != nil {
		jo := policy.JWTOptions{Algorithms: j.Algorithms, Issuer: j.Issuer, Audiences: j.Audiences,
			Leeway: time.Duration(j.Leeway), ForwardClaims: j.ForwardClaims, ScopeClaim: j.ScopeClaim}
		if j.HMACSecret != nil {
			if jo.HMACSecret, err = j.HMACSecret.Read(); err != nil {
				bad("jwt.hmac_secret", err)
			}
		}
		switch {
		case j.JWKSURL != "" && j.JWKSFile != "":
			bad("jwt", errors.New("jwks_url and jwks_file exclude each other"))
		case j.JWKSURL != "":
			p.jwks, err = policy.NewJWKS(policy.JWKSOptions{URL: j.JWKSURL, Refresh: time.Duration(j.JWKSRefresh),
				Logger: log.With().Str("component", "jwks").Logger()})
			if err != nil {
				bad("jwt.jwks_url", err)
			}
			jo.Keys = p.jwks
		case j.JWKSFile != "":
			doc, err := os.ReadFile(j.JWKSFile)
			if err == nil {
				jo.Keys, err = policy.NewStaticJWKS(doc)
			}
			if err != nil {
				bad("jwt.jwks_file", err)
			}
		}
		if p.jwt, err = policy.NewJWTVerifier(jo); err != nil {
			bad("jwt", err)
		}
		if p.jwt != nil {
			p.identityKeys = append(p.identityKeys, p.jwt.MetadataKeys()...)
		}
	}

	for i, u := range cfg.Upstreams {
		uk := fmt.Sprintf("upstreams[%d]", i)
		if _, err := policy.NewGlobs(u.Expose); err != nil {
			bad(uk+".expose", err)
		}
		if _, err := policy.NewGlobs(u.Hide); err != nil {
			bad(uk+".hide", err)
		}
		up := &upstreamPolicies{levelPolicies: level(uk+".policies", u.Policies)}
		subsets := config.ValidateSubsets(uk, u, bad)
		up.res = buildResilience(uk+".policies", u.Policies.Resilience, subsets, false, bad)
		for j, rp := range u.Routes {
			rk := fmt.Sprintf("%s.routes[%d]", uk, j)
			rl := routeLevel{levelPolicies: level(rk+".policies", rp.Policies), match: rp.Match}
			rl.res = buildResilience(rk+".policies", rp.Policies.Resilience, subsets, false, bad)
			if rp.Match == "" {
				bad(rk+".match", errors.New("required: a method glob or a route such as \"GET /v1/shelves\""))
			} else if !strings.Contains(rp.Match, " ") {
				if rl.glob, err = policy.NewGlobs([]string{rp.Match}); err != nil {
					bad(rk+".match", err)
				}
			}
			up.routes = append(up.routes, rl)
		}
		p.upstreams[u.Name] = up
	}
	config.CheckExtAuthzUse(cfg, bad)
	p.productOf, p.productByHost = config.ValidateProducts(cfg, bad)
	p.products = map[string]*levelPolicies{}
	for i, pc := range cfg.Products {
		pk := fmt.Sprintf("products[%d].policies", i)
		lp := level(pk, pc.Policies)
		lp.res = buildResilience(pk, pc.Policies.Resilience, nil, false, bad)
		p.products[pc.Name] = &lp
	}
	if p.extAuthz, p.extAuthzConn, err = buildExtAuthz(k.ExtAuthz, log); err != nil {
		bad("ext_authz", err)
	}
	if err := errors.Join(errs...); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// run does the policies' background work (JWKS refreshes) until ctx ends.
func (p *policies) run(ctx context.Context) {
	if p.jwks != nil {
		p.jwks.Run(ctx)
	}
}

func (p *policies) close() {
	if p.redis != nil {
		_ = p.redis.Close()
	}
	if p.extAuthzConn != nil {
		_ = p.extAuthzConn.Close()
	}
}

// edgeHandler wraps next (the route match) in the stages that run before
// a route is known, and those in observe (the metrics).
func (p *policies) edgeHandler(next http.Handler, observe func(http.Handler) http.Handler) http.Handler {
	// State first: serveMatch hands the path variables to the route's
	// chain through the request's Info, whichever policies are on.
	return policy.State()(observe(policy.Compile(markStages(p.edge), next)))
}

// compileRoute assembles one route's chain around final (the upstream
// call), resolving precedence global < upstream < route once, here, so the
// request path looks nothing up. It returns the handler and the names of
// the stages it holds.
func (p *policies) compileRoute(upstream, method, routeName string, final http.Handler) (http.Handler, []string) {
	levels := p.levelsFor(upstream, method, routeName)
	var (
		ips     []policy.Policy
		rules   []policy.Rule
		maxBody int64
		auth    []string
		require *config.RequireConfig
	)
	for i, l := range levels {
		if i > 0 { // the global IP filter already ran at the edge
			ips = append(ips, l.ip)
		}
		rules = append(rules, l.rules...)
		if l.cfg.MaxBodyBytes > 0 {
			maxBody = l.cfg.MaxBodyBytes
		}
		if l.cfg.Auth != nil {
			auth = l.cfg.Auth
		}
		if l.cfg.Require != nil {
			require = l.cfg.Require
		}
	}
	var set policy.Set
	set.Put(policy.StageIPFilter, policy.Then(ips...))
	set.Put(policy.StageSizeLimit, policy.SizeLimit(maxBody))
	var ao policy.AuthOptions
	for _, a := range auth {
		switch a {
		case "api_key":
			ao.Consumers = p.consumers
		case "jwt":
			ao.JWT = p.jwt
		}
	}
	set.Put(policy.StageAuthenticate, policy.Authenticate(ao))
	az := policy.AuthzOptions{Upstream: upstream, Method: method, Consumers: ao.Consumers}
	if require != nil {
		az.Scopes, az.Claims = require.Scopes, require.Claims
	}
	set.Put(policy.StageAuthorize, policy.Authorize(az))
	// Validated in buildPolicies, so RateLimit cannot fail here.
	rl, _ := policy.RateLimit(policy.RateLimitOptions{Rules: rules, Route: routeName, Consumers: ao.Consumers,
		Logger: p.log.With().Str("component", "ratelimit").Logger()})
	set.Put(policy.StageRateLimit, rl)
	set.Put(policy.StageExtAuthz, p.extAuthzStage(levels, upstream, method, routeName))
	var names []string
	for _, s := range set.Stages() {
		names = append(names, s.String())
	}
	return policy.Compile(markStages(set), final), names
}

// identity puts what authentication established into the outgoing
// metadata, after dropping any client-sent value under those keys.
func (p *policies) identity(md metadata.MD, info *policy.Info) {
	for _, k := range p.identityKeys {
		delete(md, k)
	}
	if info == nil {
		return
	}
	for i := 0; i+1 < len(info.Metadata); i += 2 {
		md[info.Metadata[i]] = append(md[info.Metadata[i]], info.Metadata[i+1])
	}
}
