package upstream

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/upstream/leanunary"
	"github.com/refract-gateway/refract/reflection"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Options describe one upstream's connections. The zero value of every
// field but Name is usable.
type Options struct {
	// Name names the upstream; required. It names its resolver schemes
	// (so it must be scheme-safe but for '_' and '@') and its entries in
	// the descriptor cache.
	Name string
	// Source is where the upstream's endpoints come from; required by
	// Watch, unused otherwise.
	Source discovery.Source
	// Timeout is how long calls on a connection that is no longer used may
	// take before it is closed (schema subsets, and the whole upstream on
	// Retire); 0 closes at once.
	Timeout time.Duration
	// Balancer is the grpc-go load-balancing policy (round_robin,
	// pick_first, least_request); HealthCheck makes grpc-go probe each
	// endpoint with grpc.health.v1. See discovery.ServiceConfig.
	Balancer    string
	HealthCheck bool
	// TLS secures the connections; nil dials in plaintext.
	TLS *TLS
	// Subsets are the named traffic subsets splits send calls to, each
	// with its own connection.
	Subsets []SubsetOptions
	// SchemaMetaKey names the endpoint meta key in which instances publish
	// their schema version: endpoints with the same value are reflected
	// once. Empty: every endpoint is reflected on its own.
	SchemaMetaKey string
	// GroupReflection is how the schema groups are reflected: the
	// metadata and timeout of the upstream's own reflection calls.
	// NoSchemaGroups turns schema tracking off, for an upstream whose
	// descriptors do not come from reflection (descriptor-set files).
	GroupReflection reflection.UpstreamOptions
	NoSchemaGroups  bool
	// DialOptions are added to every connection of the upstream (tracing,
	// say), after the upstream's own.
	DialOptions []grpc.DialOption
	// Logger receives the failures of schema tracking, which carries on
	// without the group or subset that failed; default none.
	Logger zerolog.Logger
	// NoLeanUnary makes unary calls go through grpc-go like streams do,
	// rather than the lean unary transport (leanunary). The lean transport
	// is also off when HealthCheck is on (grpc-go's health checks decide
	// which endpoints it balances over) or DialOptions are given (tracing's
	// stats handlers see grpc-go's calls only).
	NoLeanUnary bool
	// Retire closes a connection no longer used, once calls already on it
	// have had grace to finish; default: close it after grace on a timer.
	// It must not block.
	Retire func(conn *grpc.ClientConn, grace time.Duration)
}

// Upstream is one backend's connections: the one calls go to (balanced by
// grpc-go over what discovery reports), its traffic subsets, and, while
// its endpoints serve different schemas, a connection per schema group
// and per set of schemas. Immutable after New but for the discovery state,
// which Watch publishes atomically, and the schema tracking, which the
// control path serializes (see TrackSchemas).
type Upstream struct {
	name          string
	timeout       time.Duration
	schemaMetaKey string
	source        discovery.Source
	resolver      *discovery.Resolver
	conn          *grpc.ClientConn
	dial          func(res *discovery.Resolver) (*grpc.ClientConn, error) // for schema subsets
	log           zerolog.Logger
	retire        func(conn *grpc.ClientConn, grace time.Duration)
	groupOpts     reflection.UpstreamOptions // see Options.GroupReflection
	noGroups      bool

	// disc is what discovery last said; nil before it said anything.
	disc atomic.Pointer[State]
	// schemas tracks the endpoints' schemas; serialized by the caller.
	schemas *schemaTracker
	// traffic are the named subsets splits send calls to; nil without.
	traffic *trafficSubsets
	// conns is every connection's dial and break history per endpoint.
	conns *connTracker
	// unary carries unary calls on the upstream's endpoints, beside conn;
	// nil when the lean transport is off (see Options.NoLeanUnary).
	unary *leanunary.Pool
}

// State is one endpoint report from discovery. Immutable.
type State struct {
	Endpoints []discovery.Endpoint // the set being served
	Known     bool                 // a set has arrived (Endpoints may be empty)
	Err       error                // the last refresh failed: Endpoints may be stale
	Since     time.Time            // when Err started, or when the set last arrived
}

// New dials the upstream's connection and its subsets' (without waiting:
// grpc-go connects once the resolver has endpoints). Close or Retire it
// when done.
func New(o Options) (*Upstream, error) {
	tlsConf, err := tlsConfigFor(o.TLS)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", o.Name, err)
	}
	creds := insecure.NewCredentials()
	if tlsConf != nil {
		creds = credentials.NewTLS(tlsConf)
	}
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", o.Name, err)
	}
	serviceConfig := discovery.ServiceConfig(o.Balancer, o.HealthCheck)
	extra := o.DialOptions
	tracker := newConnTracker(time.Now)
	dial := func(res *discovery.Resolver) (*grpc.ClientConn, error) {
		if r, ok := o.Source.(discovery.Refresher); ok {
			res.OnResolveNow(r.ResolveNow)
		}
		conn, err := grpc.NewClient(res.Target(), append([]grpc.DialOption{
			res.DialOption(),
			grpc.WithTransportCredentials(creds),
			grpc.WithDefaultServiceConfig(serviceConfig),
			// The gateway retries itself, only when safe and within a
			// budget (resilience.Retry): grpc-go's retry policy must never
			// stack on top. Transparent retries stay on.
			grpc.WithDisableRetry(),
			// Every connection is dialed through the tracker, which keeps
			// each endpoint's state and last error for the admin API.
			grpc.WithContextDialer(tracker.dial),
			// A connection's write buffer is returned to a pool between
			// writes instead of held for its lifetime: many upstreams and
			// subsets each hold connections that are mostly idle.
			grpc.WithSharedWriteBuffer(true),
			// Fixed flow-control windows turn off grpc-go's bandwidth-delay
			// estimator, whose PINGs and acks travel beside the data frames
			// of a busy connection (six allocations fewer per small call,
			// the backend's side included, and fewer frames to write). A
			// stream buffers at most 1 MiB for a slow reader (the estimator
			// may grow a window to 16 MiB); a link carrying over 4 MiB in
			// flight per connection would be held back.
			grpc.WithInitialWindowSize(1 << 20),
			grpc.WithInitialConnWindowSize(4 << 20),
		}, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", o.Name, err)
		}
		return conn, nil
	}
	// The scheme is per upstream so that each ClientConn has its own
	// resolver; upstream names are already scheme-safe but for '_'.
	res := discovery.NewResolver(scheme(o.Name))
	conn, err := dial(res)
	if err != nil {
		return nil, err
	}
	traffic, err := newTrafficSubsets(o.Name, o.Subsets, dial)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	retire := o.Retire
	if retire == nil {
		retire = closeAfter
	}
	var unary *leanunary.Pool
	if !o.NoLeanUnary && !o.HealthCheck && len(o.DialOptions) == 0 {
		unary = leanunary.New(leanunary.Options{
			Dial:      tracker.dial,
			TLS:       tlsConf,
			Authority: conn.Target()[strings.LastIndex(conn.Target(), "/")+1:], // as grpc-go: the target's endpoint
			Balancer:  o.Balancer,
		})
	}
	return &Upstream{
		unary:         unary,
		traffic:       traffic,
		name:          o.Name,
		timeout:       o.Timeout,
		schemaMetaKey: o.SchemaMetaKey,
		source:        o.Source,
		resolver:      res,
		conn:          conn,
		dial:          dial,
		log:           o.Logger,
		retire:        retire,
		schemas:       newSchemaTracker(),
		conns:         tracker,
		groupOpts:     o.GroupReflection,
		noGroups:      o.NoSchemaGroups,
	}, nil
}

func scheme(name string) string {
	return "refract-" + strings.NewReplacer("_", "-", "@", "-").Replace(name)
}

// closeAfter is the default Options.Retire.
func closeAfter(conn *grpc.ClientConn, grace time.Duration) {
	if grace <= 0 {
		_ = conn.Close()
		return
	}
	time.AfterFunc(grace, func() { _ = conn.Close() })
}

// Name is the upstream's name. Safe for concurrent use.
func (u *Upstream) Name() string { return u.name }

// Conn is the connection calls go to, balanced over every endpoint
// discovery reports. Safe for concurrent use.
func (u *Upstream) Conn() *grpc.ClientConn { return u.conn }

// Invoke makes a unary call on conn, the upstream's connection or one of
// its subsets'. A call on the upstream's own goes through the lean unary
// transport when it is on and takes the call; every other call, and one it
// declines before sending, through grpc-go. Safe for concurrent use.
func (u *Upstream) Invoke(ctx context.Context, conn *grpc.ClientConn, method string, req, resp any, opts ...grpc.CallOption) error {
	if u.unary != nil && conn == u.conn {
		if err := u.unary.Invoke(ctx, method, req, resp, opts...); err != leanunary.ErrDeclined {
			return err
		}
	}
	return conn.Invoke(ctx, method, req, resp, opts...)
}

// Source is where the upstream's endpoints come from. Safe for concurrent
// use.
func (u *Upstream) Source() discovery.Source { return u.source }

// State is what discovery last said; nil before it said anything. Safe
// for concurrent use.
func (u *Upstream) State() *State { return u.disc.Load() }

// Describe is s for the admin API: "ok", "stale" (the source fails; the
// last known endpoints are served) or "waiting" (nothing known yet), with
// the source's error and since when it fails.
func (s *State) Describe() (state, err string, since time.Time) {
	switch {
	case s.Err != nil && !s.Known:
		// Failing before any answer (e.g. Consul refusing the query):
		// nothing is served, so nothing is stale.
		return "waiting", s.Err.Error(), s.Since
	case s.Err != nil:
		return "stale", s.Err.Error(), s.Since
	case s.Known:
		return "ok", "", time.Time{}
	}
	return "waiting", "", time.Time{}
}

// Problem says what fails in discovery, "" when nothing does: stale when
// the last known endpoints are still served, else failing since before the
// first answer. Safe for concurrent use.
func (u *Upstream) Problem() (msg string, stale bool) {
	st := u.State()
	switch {
	case st == nil || st.Err == nil:
		return "", false
	case st.Known:
		return fmt.Sprintf("%s failing since %s (%v); serving the last known %d endpoint(s)",
			u.source, st.Since.UTC().Format(time.RFC3339), st.Err, len(st.Endpoints)), true
	}
	return fmt.Sprintf("%s failing since %s, no endpoint known yet: %v", u.source, st.Since.UTC().Format(time.RFC3339), st.Err), false
}

// Watch feeds discovery updates into the connections' resolvers (the
// upstream's and its tag subsets') and tells onChange, until ctx is done.
// A failed refresh changes nothing but the state: the last known set keeps
// being served. One Watch at a time.
func (u *Upstream) Watch(ctx context.Context, now func() time.Time, onChange func(discovery.Update)) {
	u.source.Watch(ctx, func(up discovery.Update) {
		prev := u.disc.Load()
		if up.Err != nil {
			st := &State{Err: up.Err, Since: now()}
			if prev != nil {
				st.Endpoints, st.Known = prev.Endpoints, prev.Known
				if prev.Err != nil {
					st.Since = prev.Since
				}
			}
			u.disc.Store(st)
			return
		}
		u.resolver.Update(up.Endpoints)
		u.traffic.update(up.Endpoints)
		if u.unary != nil {
			addrs := make([]string, len(up.Endpoints))
			for i, e := range up.Endpoints {
				addrs[i] = e.Addr
			}
			u.unary.SetEndpoints(addrs)
		}
		keep := make(map[string]bool, len(up.Endpoints))
		for _, e := range up.Endpoints {
			keep[e.Addr] = true
		}
		u.conns.retain(keep)
		u.disc.Store(&State{Endpoints: up.Endpoints, Known: true, Since: now()})
		onChange(up)
	})
}

// Unavailable says why calls cannot go out at all, or "" when they can.
// Safe for concurrent use.
func (u *Upstream) Unavailable() string {
	st := u.disc.Load()
	switch {
	case st == nil:
		return ""
	case st.Known && len(st.Endpoints) == 0:
		return fmt.Sprintf("upstream %q unavailable: %s reports no healthy endpoint", u.name, u.source)
	case !st.Known:
		return fmt.Sprintf("upstream %q unavailable: no endpoint known yet: %v", u.name, st.Err)
	}
	return ""
}

// Retire hands the upstream's connection and its subsets' to
// Options.Retire with the upstream's timeout, so that calls already on
// them can finish. Call ForgetSchemas first.
func (u *Upstream) Retire() {
	u.conns.stop()
	if u.unary != nil {
		u.unary.Drain()
	}
	u.retire(u.conn, u.timeout)
	u.traffic.retire(u.retire, u.timeout)
}

// Close closes the upstream's connection and its subsets' now, and
// returns the error of closing the first. Call ForgetSchemas first.
func (u *Upstream) Close() error {
	u.conns.stop()
	u.traffic.close()
	if u.unary != nil {
		u.unary.Close()
	}
	return u.conn.Close()
}

// OnReconnect calls f whenever the upstream's connection (or the lean
// transport's to an endpoint) comes back to READY after leaving it (not on the first READY), until ctx ends: an
// instance restarted on the same address may serve a new schema, and with
// a static endpoint nothing else would say so. It blocks; run it on its
// own goroutine.
func (u *Upstream) OnReconnect(ctx context.Context, f func()) {
	if u.unary != nil {
		// While unary calls go through the lean transport, grpc-go's
		// connection may sit idle and miss a restart that they see.
		u.unary.OnRedial(f)
	}
	conn := u.Conn()
	seenReady, lost := false, false
	for state := conn.GetState(); ; state = conn.GetState() {
		switch {
		case state == connectivity.Ready && lost:
			f()
			lost = false
		case state == connectivity.Ready:
			seenReady = true
		case seenReady:
			lost = true
		}
		if !conn.WaitForStateChange(ctx, state) {
			return // ctx done
		}
	}
}
