package gateway

import (
	"context"
	"time"

	"net/http"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/compress"
	"github.com/refract-gateway/refract/gateway/respcache"
	"github.com/refract-gateway/refract/gateway/stream"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/compat"
	"github.com/refract-gateway/refract/transcode/httpmeta"
	"github.com/refract-gateway/refract/transcode/openapi"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
)

// Options is everything New needs to build a Gateway: runtime values, not
// configuration. A program that reads refract's YAML gets them from the
// translator of that schema; one that embeds the engine fills them itself.
// The zero value of every field is usable and means its documented default.
type Options struct {
	// Logger receives the gateway's logs. Default: the zero Logger, which
	// discards everything.
	Logger zerolog.Logger
	// Now is the clock of the gateway's timestamps; default time.Now.
	Now func() time.Time
	// Reflection tunes the descriptor cache; its Logger is replaced by
	// Logger. Zero fields take the cache's defaults.
	Reflection reflection.Options
	// Upstreams are the backends to serve, in order; names must be
	// distinct. Default none.
	Upstreams []UpstreamOptions
	// AutoExpose, when set, adds and removes upstreams as a catalog of
	// services changes. Default nil: only Upstreams are served.
	AutoExpose *AutoExposeOptions
	// Limits bound what one request or client may cost; zero fields take
	// the defaults named on each.
	Limits Limits
	// Products split the routes into tables of their own, selected by a
	// listener or by Host. Default none: one table.
	Products []ProductOptions
	// OpenAPI serves the live OpenAPI document of each public listener.
	// Default off.
	OpenAPI OpenAPIOptions
	// ServeReflection serves gRPC server reflection (v1 and v1alpha) on the
	// public listeners, behind the policies every route has, answering with
	// the union of the published services. Default off.
	ServeReflection bool
	// Compression compresses HTTP+JSON responses; nil: none. Request
	// bodies with Content-Encoding gzip or zstd are decoded either way.
	Compression *compress.Responses
	// Policies are the HTTP stages and call plans of every route. Default
	// nil: no policy but panic recovery, and plain calls with the
	// upstream's timeout.
	Policies Policies
	Composer Composer // routes composed of calls (package aggregate); nil: none
	// Release, when set, is called once by Close (or by New when it
	// fails), after background work stopped: it frees what the maker of
	// these options holds for the gateway (a Consul client's idle
	// connections, say). Default nil.
	Release func()
}

// Composer serves routes made of calls to published methods: Build at every
// route build (what it cannot serve is refused), Serve a request no route matched.
type Composer interface {
	Build(g *Gateway) []RefusedRoute
	Serve(w http.ResponseWriter, r *http.Request) bool
	OpenAPI() []openapi.Route
	Routes() []RouteInfo // the routes it serves, for Gateway.Routes
}

// UpstreamOptions is one backend: its connections and how its methods are
// turned into routes.
type UpstreamOptions struct {
	// Conn dials the upstream; its Name (required) names the upstream and
	// its Source (required) says where its endpoints are. New sets Retire
	// and Logger (Options.Logger) and adds its own dial options after
	// DialOptions. Conn.Timeout is also every call's deadline unless a
	// policy or the client sets a shorter one; default 30s.
	Conn upconn.Options
	// Rules add or replace HTTP rules by method full name; a rule here
	// replaces the method's google.api.http annotation. Default none.
	Rules map[string]*annotations.HttpRule
	// Transcode is how JSON maps to the upstream's messages (its Resolver
	// is set per descriptor snapshot). Zero: the transcoder's defaults.
	Transcode transcode.Options
	// Headers says which request headers travel to the upstream as
	// metadata; default transcode.NewHeaderRules(nil)'s.
	Headers *transcode.HeaderRules
	// Response maps response metadata to plain headers of successful
	// HTTP+JSON responses; nil maps none. The x-http-code status
	// convention (httpmeta.StatusKey) applies either way.
	Response *httpmeta.Rules
	// GRPCCompression is the compressor of HTTP+JSON calls' requests to
	// the upstream ("gzip"); "" or "identity": none.
	GRPCCompression string
	// ETag gives the successful responses of GET routes and side-effect
	// free methods an ETag, and answers a matching If-None-Match with 304.
	// Default false.
	ETag bool
	// Cache keeps successful responses of GET routes and side-effect-free
	// methods; nil: none.
	Cache *respcache.Cache
	// DefaultRoutes gives methods without rules the route
	// POST /{package.Service}/{Method}. Default false.
	DefaultRoutes bool
	// PathPrefix mounts the upstream's routes under literal path segments
	// (/orders); default none.
	PathPrefix string
	// Optional upstreams do not hold readiness while their descriptors are
	// missing. Default false: they do.
	Optional bool
	// MayOverlap names upstreams whose routes may overlap this one's
	// (either side naming the other is enough). Default none: a route
	// that can match a path another upstream's route matches is refused
	// (Gateway.RefusedRoutes).
	MayOverlap []string
	// Validate checks requests against the buf.validate rules of their
	// descriptors before the call. Default false.
	Validate bool
	// Hidden decides which methods get no route: rule says why (for the
	// admin API) when hidden is true. Default nil: every method is served.
	Hidden func(method string) (rule string, hidden bool)
	// Descriptors are where the upstream's descriptors come from (reflection,
	// descriptor-set files), whether breaking schemas wait for approval and
	// where the adopted one is persisted. Zero: reflection, adopted at once.
	Descriptors reflection.UpstreamOptions
	// Streams limits and shapes the upstream's streaming calls.
	Streams StreamLimits
	// Compat is the wire dialect of the upstream's routes; default
	// compat.Refract. compat.GRPCGateway answers as grpc-gateway does where
	// safety is not at stake (see package compat).
	Compat compat.Mode
	// Key identifies what these options define (a digest of their
	// source): Update keeps a running upstream of the same name and Key as
	// it is. Default "": Update builds the upstream anew.
	Key string
}

// StreamLimits bound an upstream's streaming calls.
type StreamLimits = stream.Limits

// Limits bound requests, connections and upstream responses. Zero fields
// take the default named on each.
type Limits struct {
	// URLBytes bounds the request target; longer gets 414. Default 8 KiB.
	URLBytes int
	// HeaderBytes bounds the request headers; more gets 431. Default 32 KiB.
	HeaderBytes int
	// ResponseBytes bounds one upstream message; larger gets 502. Default
	// 4 MiB.
	ResponseBytes int
	// PerClient bounds the requests one client address has in flight;
	// more get 429. Default 256.
	PerClient int
	// Underscores is what happens to a header whose name holds '_':
	// UnderscoreDrop (the default), UnderscoreReject or UnderscoreAllow.
	Underscores string
	// BodyBytes caps request bodies; larger get 413. Default 4 MiB.
	BodyBytes int64
	// BodyPace bounds how long a request body may take to arrive; slower
	// gets 408. Default 10s plus 1s per 16 KiB received.
	BodyPace policy.BodyPace
	// MinClientTimeout and MaxClientTimeout bound a client's Grpc-Timeout;
	// outside them gets 400. Defaults 10ms and transcode.MaxTimeout.
	MinClientTimeout, MaxClientTimeout time.Duration
	// Routes bounds the routes of one upstream; more keep the previous set.
	Routes int // default 10,000
}

// The values of Limits.Underscores.
const (
	UnderscoreDrop   = policy.UnderscoreDrop
	UnderscoreReject = policy.UnderscoreReject
	UnderscoreAllow  = policy.UnderscoreAllow
)

// withDefaults is l with every zero field at its default.
func (l Limits) withDefaults() Limits {
	orInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	orDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	orInt(&l.URLBytes, 8<<10)
	orInt(&l.HeaderBytes, 32<<10)
	orInt(&l.ResponseBytes, 4<<20)
	orInt(&l.PerClient, 256)
	orInt(&l.Routes, 10_000)
	if l.Underscores == "" {
		l.Underscores = UnderscoreDrop
	}
	if l.BodyBytes <= 0 {
		l.BodyBytes = 4 << 20
	}
	orDur(&l.BodyPace.Grace, 10*time.Second)
	if l.BodyPace.MinRate <= 0 {
		l.BodyPace.MinRate = 16 << 10
	}
	orDur(&l.MinClientTimeout, 10*time.Millisecond)
	orDur(&l.MaxClientTimeout, transcode.MaxTimeout)
	return l
}

// OpenAPIOptions serves the OpenAPI document of the routes.
type OpenAPIOptions struct {
	// Enabled serves the document; default false.
	Enabled bool
	// Path is where it is served; default /openapi.json.
	Path string
}

// AutoExposeOptions exposes the services of a catalog as upstreams.
type AutoExposeOptions struct {
	// Services follows the names of the services to expose; required.
	Services ServiceCatalog
	// Upstream builds the options of the upstream that serves a service;
	// an error leaves the service out (logged). Required.
	Upstream func(service string) (UpstreamOptions, error)
}

// ServiceCatalog pushes the set of service names to expose whenever it
// changes, or the error of a failed query (the names exposed are then
// kept), until ctx is done. discovery.ConsulServices is one.
type ServiceCatalog interface {
	Watch(ctx context.Context, push func(names []string, err error))
}

var _ ServiceCatalog = (*discovery.ConsulServices)(nil)

// Option changes how New builds a Gateway: what it reports to, what wraps
// its public handler, how it dials. Without any, a
// Gateway observes nothing and wraps nothing.
type Option interface{ apply(*options) }

type options struct {
	observer   Observer
	middleware []func(http.Handler) http.Handler
	dialOpts   []grpc.DialOption
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithObserver reports the request path to obs (metrics). Default none:
// nothing is observed and the request path pays nothing for it.
func WithObserver(obs Observer) Option {
	return optionFunc(func(o *options) { o.observer = obs })
}

// WithMiddleware wraps the whole public handler in mw, outermost: it sees
// every request before any policy (a tracing server span, say). Several
// are applied in order, the last outermost. Default none.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return optionFunc(func(o *options) { o.middleware = append(o.middleware, mw) })
}

// WithDialOptions adds dial options to every upstream connection (a
// tracing stats handler, say). Default none.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) { o.dialOpts = append(o.dialOpts, opts...) })
}
