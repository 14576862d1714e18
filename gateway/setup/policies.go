package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/aggregate"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/checks"
	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/policy/resilience"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/metadata"
)

// policies is the gateway's compiled policy configuration: the pieces built
// once (consumers, JWT verifier, limiter stores, rules) from which the edge
// chain and every route's chain are assembled. Rate-limit buckets, breakers
// and retry budgets live here, so they survive route rebuilds. Immutable
// after buildPolicies but for that state. It is the gateway.Policies of a
// config.
type policies struct {
	log       zerolog.Logger
	edge      policy.Set
	consumers *policy.Consumers
	jwt       *jwt.Verifier
	jwks      *jwt.JWKS // refreshed in the background when fetched by URL
	local     *policy.LocalLimiter
	redis     *policy.RedisLimiter
	global    levelPolicies
	upstreams map[string]*upstreamPolicies
	// identityKeys are the metadata keys only authentication or the
	// external authorizer may set; the same keys sent by a client are
	// dropped on every route.
	identityKeys []string
	// apiKeyMeta is the API-key header's metadata key ("" without
	// consumers).
	apiKeyMeta string
	// res holds breakers and retry budgets (the State's); breakers are
	// the ones this config's routes use, for the admin API.
	res      *resilienceState
	usedMu   sync.Mutex
	breakers map[*resilience.Breaker]bool
	// extAuthz is the external authorizer.
	extAuthz *policy.ExtAuthz
	// checks are the named pre-call checks, by name.
	checks map[string]*checks.Check
	// releases give back the connections shared through the State (the
	// Redis client, the authorizer's).
	releases []func() error
	// products: each product's policy level.
	products map[string]*levelPolicies
	// authFailures limits failed authentications on every route (nil:
	// off); its buckets are in local or redis.
	authFailures *policy.AuthFailures
}

var _ gateway.Policies = (*policies)(nil)

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
	sel selector
}

// buildPolicies builds every policy piece from cfg, which config.Validate
// accepted: what fails here is a constructor's error, reported with its
// key.
func buildPolicies(cfg *config.Config, log, access zerolog.Logger, st *State, obs checks.Observer) (*policies, error) {
	if st == nil {
		st = NewState(log)
	}
	p := &policies{log: log, upstreams: map[string]*upstreamPolicies{}, local: st.local, res: st.res,
		breakers: map[*resilience.Breaker]bool{}}
	var errs []error
	bad := func(key string, err error) {
		errs = append(errs, fmt.Errorf("config: %s: %w", key, err))
	}
	k := &cfg.PolicyKeys

	onErrorOpen := true
	if r := k.Redis; r != nil {
		onErrorOpen = r.OnError != "closed"
		var pw []byte
		if r.Password != nil {
			var err error
			if pw, err = r.Password.Read(); err != nil {
				bad("redis.password", err)
			}
		}
		ro := policy.RedisOptions{Addr: r.Addr, Username: r.Username, Password: string(pw),
			DB: r.DB, Prefix: r.Prefix, Timeout: time.Duration(r.Timeout)}
		rl, release, err := acquire(st, "redis", ro, func() (*policy.RedisLimiter, func() error, error) {
			rl, err := policy.NewRedisLimiter(ro)
			if err != nil {
				return nil, nil, err
			}
			return rl, rl.Close, nil
		})
		if err != nil {
			bad("redis", err)
		}
		p.redis, p.releases = rl, append(p.releases, release)
	}
	store := func(shared bool) policy.Limiter {
		if shared && p.redis != nil {
			return p.redis
		}
		return p.local
	}
	level := func(key string, pc config.Policies) levelPolicies {
		lp := levelPolicies{cfg: pc}
		if pc.IP != nil {
			allow, _ := policy.ParsePrefixes(pc.IP.Allow)
			deny, _ := policy.ParsePrefixes(pc.IP.Deny)
			lp.ip = policy.IPFilter(allow, deny)
		}
		for i, rc := range pc.RateLimits {
			by, _ := policy.ParseKeyBy(rc.Key)
			name := rc.Name
			if name == "" {
				name = fmt.Sprintf("%s.rate_limits[%d]", key, i)
			}
			lp.rules = append(lp.rules, policy.Rule{Name: name, By: by, Limit: rc.Limit(),
				Store: store(rc.Shared), FailOpen: onErrorOpen, IPv6Prefix: rc.IPv6Prefix})
		}
		return lp
	}

	// edge: recover → request id → access log → client IP → IP filter → CORS
	p.edge.Put(policy.StageRecover, policy.Recover(log))
	if k.RequestID == nil || *k.RequestID {
		p.edge.Put(policy.StageRequestID, policy.RequestID())
	}
	if k.AccessLog.Enabled == nil || *k.AccessLog.Enabled {
		al, err := policy.AccessLog(policy.AccessLogOptions{Logger: access.With().Str("component", "access").Logger(), Sample: k.AccessLog.Sample})
		if err != nil {
			bad("access_log.sample", err)
		}
		p.edge.Put(policy.StageAccessLog, al)
	}
	trusted, _ := policy.ParsePrefixes(k.TrustedProxies)
	p.edge.Put(policy.StageClientIP, policy.ClientIP(trusted))
	if c := k.CORS; c != nil {
		cp, err := policy.CORS(c.CORSOptions())
		if err != nil {
			bad("cors", err)
		}
		p.edge.Put(policy.StageCORS, cp)
	}
	p.global = level("policies", k.Policies)
	if af := k.Policies.AuthFailures; af != nil {
		p.authFailures = &policy.AuthFailures{Name: "policies.auth_failures", Limit: af.RateLimit().Limit(),
			Store: store(af.Shared), FailOpen: onErrorOpen, IPv6Prefix: af.IPv6Prefix,
			Logger: log.With().Str("component", "ratelimit").Logger()}
		if err := p.authFailures.Validate(); err != nil {
			bad("policies.auth_failures", err)
		}
	}
	p.global.res = buildResilience(k.Policies.Resilience, bad)
	// Global IP rules run at the edge, before the route match, so a denied
	// client cannot even learn which paths exist.
	p.edge.Put(policy.StageIPFilter, p.global.ip)

	if len(k.Consumers) > 0 {
		opts := k.APIKeys.ConsumersOptions()
		for i, c := range k.Consumers {
			co := c.Options(fmt.Sprintf("consumers[%d]", i), bad)
			if co.Quota != nil {
				co.QuotaStore, co.QuotaFailOpen = store(c.Quota.Shared), onErrorOpen
			}
			opts.Consumers = append(opts.Consumers, co)
		}
		var err error
		if p.consumers, err = policy.NewConsumers(opts); err != nil && len(errs) == 0 {
			bad("consumers", err)
		}
		if p.consumers != nil {
			p.identityKeys = append(p.identityKeys, p.consumers.MetadataKey())
			p.apiKeyMeta = strings.ToLower(p.consumers.Header())
		}
	}
	if j := k.JWT; j != nil {
		jo := j.JWTOptions()
		var err error
		if j.HMACSecret != nil {
			if jo.HMACSecret, err = j.HMACSecret.Read(); err != nil {
				bad("jwt.hmac_secret", err)
			}
		}
		switch {
		case j.JWKSURL != "":
			p.jwks, err = st.keyset(j.JWKSURL, time.Duration(j.JWKSRefresh), func() (*jwt.JWKS, error) {
				return jwt.NewJWKS(jwt.JWKSOptions{URL: j.JWKSURL, Refresh: time.Duration(j.JWKSRefresh),
					Logger: log.With().Str("component", "jwks").Logger()})
			})
			if err != nil {
				bad("jwt.jwks_url", err)
			}
			jo.Keys = p.jwks
		case j.JWKSFile != "":
			doc, err := os.ReadFile(j.JWKSFile)
			if err == nil {
				jo.Keys, err = jwt.NewStaticJWKS(doc)
			}
			if err != nil {
				bad("jwt.jwks_file", err)
			}
		}
		if p.jwt, err = jwt.NewVerifier(jo); err != nil {
			bad("jwt", err)
		}
		if p.jwt != nil {
			p.identityKeys = append(p.identityKeys, p.jwt.MetadataKeys()...)
		}
	}

	for i, u := range cfg.Upstreams {
		uk := fmt.Sprintf("upstreams[%d]", i)
		up := &upstreamPolicies{levelPolicies: level(uk+".policies", u.Policies)}
		up.res = buildResilience(u.Policies.Resilience, bad)
		for j, rp := range u.Routes {
			rk := fmt.Sprintf("%s.routes[%d]", uk, j)
			rl := routeLevel{levelPolicies: level(rk+".policies", rp.Policies), sel: newSelector(rk, rp)}
			rl.res = buildResilience(rp.Policies.Resilience, bad)
			up.routes = append(up.routes, rl)
		}
		p.upstreams[u.Name] = up
	}
	for i, a := range cfg.Aggregates { // an aggregate's route: a level under a name no upstream has
		p.upstreams[aggregate.PolicyKey(a.Name)] = &upstreamPolicies{levelPolicies: level(fmt.Sprintf("aggregates[%d].policies", i), a.Policies)}
	}
	p.products = map[string]*levelPolicies{}
	for i, pc := range cfg.Products {
		lp := level(fmt.Sprintf("products[%d].policies", i), pc.Policies)
		lp.res = buildResilience(pc.Policies.Resilience, bad)
		p.products[pc.Name] = &lp
	}
	var err error
	if k.ExtAuthz != nil {
		var release func() error
		p.extAuthz, release, err = acquire(st, "ext_authz", *k.ExtAuthz, func() (*policy.ExtAuthz, func() error, error) {
			a, conn, err := buildExtAuthz(k.ExtAuthz, log)
			if err != nil {
				return nil, nil, err
			}
			return a, func() error {
				if conn != nil {
					return conn.Close()
				}
				return nil
			}, nil
		})
		if err != nil {
			bad("ext_authz", err)
		}
		p.releases = append(p.releases, release)
	}
	if k.ExtAuthz != nil {
		// What the authorizer vouches for, no client may send on any
		// route, whether or not the authorizer is asked there.
		for _, h := range k.ExtAuthz.ExtAuthzOptions().UpstreamHeaders {
			p.identityKeys = append(p.identityKeys, strings.ToLower(h))
		}
	}
	p.buildChecks(k.Checks, st, obs, bad)
	if err := errors.Join(errs...); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// Run does the policies' background work (JWKS refreshes) until ctx ends.
func (p *policies) Run(ctx context.Context) {
	if p.jwks != nil {
		p.jwks.Run(ctx)
	}
}

// Close gives back the Redis client and the authorizer's connection,
// which close when no other config of the process uses them.
func (p *policies) Close() error {
	for _, release := range p.releases {
		if release != nil {
			_ = release()
		}
	}
	return nil
}

// Edge is the stages that run before a route is known.
func (p *policies) Edge() policy.Set { return p.edge }

// Route assembles one route's stages, resolving precedence global <
// product < upstream < route once, here, so the request path looks
// nothing up.
func (p *policies) Route(r gateway.RouteRef) policy.Set {
	levels := p.levelsFor(r)
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
	ao := policy.AuthOptions{Failures: p.authFailures}
	for _, a := range auth {
		switch a {
		case "api_key":
			ao.Consumers = p.consumers
		case "jwt":
			ao.JWT = p.jwt
		}
	}
	set.Put(policy.StageAuthenticate, policy.Authenticate(ao))
	az := policy.AuthzOptions{Upstream: r.Upstream, Method: r.Method, Consumers: ao.Consumers}
	if require != nil {
		az.Scopes, az.Claims = require.Scopes, require.Claims
	}
	set.Put(policy.StageAuthorize, policy.Authorize(az))
	// The rules were validated with the config, so RateLimit cannot fail.
	rl, _ := policy.RateLimit(policy.RateLimitOptions{Rules: rules, Route: r.Route, Consumers: ao.Consumers,
		Logger: p.log.With().Str("component", "ratelimit").Logger()})
	set.Put(policy.StageRateLimit, rl)
	set.Put(policy.StageExtAuthz, p.extAuthzStage(levels, r))
	set.Put(policy.StageChecks, p.checksStage(levels, r))
	return set
}

// Identity puts what authentication established into the outgoing
// metadata, after dropping any client-sent value under those keys. On a
// route that authenticated the request, the credential keys
// (authorization, the API-key header's) carry exactly the credential that
// was verified, or nothing: never one the gateway did not check.
func (p *policies) Identity(md metadata.MD, info *policy.Info) {
	for _, k := range p.identityKeys {
		delete(md, k)
	}
	if info == nil {
		return
	}
	if authn, bearer, key := info.Credentials(); authn {
		policy.KeepVerified(md, "authorization", bearer)
		if p.apiKeyMeta != "" {
			policy.KeepVerified(md, p.apiKeyMeta, key)
		}
	}
	for i := 0; i+1 < len(info.Metadata); i += 2 {
		md[info.Metadata[i]] = append(md[info.Metadata[i]], info.Metadata[i+1])
	}
}

// Selectors checks the upstream's route selectors against its routes just
// built; a selector that selects nothing is logged as an error, one that
// covers part of a method as a warning.
func (p *policies) Selectors(upstream string, routes []gateway.RouteRef) gateway.SelectorReport {
	up := p.upstreams[upstream]
	if up == nil || len(up.routes) == 0 {
		return gateway.SelectorReport{}
	}
	sels := make([]selector, len(up.routes))
	for i := range up.routes {
		sels[i] = up.routes[i].sel
	}
	names, methods := make([]string, len(routes)), make([]string, len(routes))
	for i, r := range routes {
		names[i], methods[i] = r.Route, r.Method
	}
	rep := checkSelectors(sels, names, methods)
	for _, m := range rep.Misses {
		p.log.Error().Str("upstream", upstream).Msg("route policy selects no route: " + m)
	}
	for _, m := range rep.Partial {
		p.log.Warn().Str("upstream", upstream).Msg("route policy covers part of a method: " + m)
	}
	return rep
}

// levelsFor lists the policy levels that apply to a route, least specific
// first: global, the product's, the upstream's, then each matching route
// entry.
func (p *policies) levelsFor(r gateway.RouteRef) []*levelPolicies {
	levels := []*levelPolicies{&p.global}
	if pl := p.products[r.Product]; pl != nil {
		levels = append(levels, pl)
	}
	if up := p.upstreams[r.Upstream]; up != nil {
		levels = append(levels, &up.levelPolicies)
		for i := range up.routes {
			if rl := &up.routes[i]; rl.sel.selects(r.Route, r.Method) {
				levels = append(levels, &rl.levelPolicies)
			}
		}
	}
	return levels
}

// ConsumersOf is the API-key consumers of a config's policies (the
// gateway.Options.Policies New made), for the admin API's quota view; nil
// without consumers or for policies New did not make.
func ConsumersOf(p gateway.Policies) *policy.Consumers {
	if pp, ok := p.(*policies); ok {
		return pp.consumers
	}
	return nil
}
