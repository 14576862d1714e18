package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// upstream is one backend as the request path sees it: its connection (one
// per upstream, balanced by grpc-go over what discovery reports), header
// rules and call options. Immutable after newUpstream but for the atomics
// and the schema tracker, which the control path owns.
type upstream struct {
	name     string
	cfg      config.Upstream
	auto     bool // exposed from Consul by tag, not configured
	source   discovery.Source
	resolver *discovery.Resolver
	conn     *grpc.ClientConn
	dial     func(res *discovery.Resolver) (*grpc.ClientConn, error) // for schema subsets
	headers  *transcode.HeaderRules
	timeout  time.Duration
	rules    map[string]*annotations.HttpRule // config rules by method full name
	opts     transcode.Options                // without Resolver: that comes per snapshot

	// disc is what discovery last said; nil before it said anything.
	disc atomic.Pointer[discState]
	// schemas tracks the endpoints' schemas; guarded by Gateway.buildMu.
	schemas *schemaTracker
	// traffic are the named subsets splits send calls to; nil without.
	traffic *trafficSubsets

	cancel context.CancelFunc // stops the watch
	done   chan struct{}      // closed when the watch has returned
}

// discState is one endpoint report from discovery. Immutable.
type discState struct {
	endpoints []discovery.Endpoint // the set being served
	known     bool                 // a set has arrived (endpoints may be empty)
	err       error                // the last refresh failed: endpoints may be stale
	since     time.Time            // when err started, or when the set last arrived
}

// newUpstream connects an upstream; extra are dial options of the gateway's
// (tracing) added to every connection of it.
func newUpstream(cfg config.Upstream, src discovery.Source, lim *config.LimitsConfig, extra ...grpc.DialOption) (*upstream, error) {
	headers, err := transcode.NewHeaderRules(cfg.ForwardHeaders)
	if err != nil {
		return nil, err
	}
	creds, err := upstreamCredentials(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", cfg.Name, err)
	}
	serviceConfig := discovery.ServiceConfig(cfg.Balancer, cfg.HealthCheck)
	dial := func(res *discovery.Resolver) (*grpc.ClientConn, error) {
		conn, err := grpc.NewClient(res.Target(), append([]grpc.DialOption{
			res.DialOption(),
			grpc.WithTransportCredentials(creds),
			grpc.WithDefaultServiceConfig(serviceConfig),
			// The gateway retries itself, only when safe and within a
			// budget (resilience.Retry): grpc-go's retry policy must never
			// stack on top. Transparent retries stay on.
			grpc.WithDisableRetry(),
		}, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", cfg.Name, err)
		}
		return conn, nil
	}
	// The scheme is per upstream so that each ClientConn has its own
	// resolver; upstream names are already scheme-safe but for '_'.
	res := discovery.NewResolver(upstreamScheme(cfg.Name))
	conn, err := dial(res)
	if err != nil {
		return nil, err
	}
	traffic, err := newTrafficSubsets(cfg.Name, cfg.Subsets, dial)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	u := &upstream{
		traffic:  traffic,
		name:     cfg.Name,
		cfg:      cfg,
		source:   src,
		resolver: res,
		conn:     conn,
		dial:     dial,
		schemas:  newSchemaTracker(),
		headers:  headers,
		timeout:  time.Duration(cfg.Timeout),
		rules:    make(map[string]*annotations.HttpRule, len(cfg.Rules)),
		opts: transcode.Options{
			UseProtoNames:   cfg.JSON.UseProtoNames,
			OmitUnpopulated: !*cfg.JSON.EmitUnpopulated,
			Strict:          cfg.Strict,
			MaxDepth:        lim.JSONDepth(),
		},
	}
	for _, r := range cfg.Rules {
		if u.rules[r.Selector], err = r.Proto(true); err != nil {
			return nil, fmt.Errorf("upstream %q: rule %s: %w", cfg.Name, r.Selector, err)
		}
	}
	return u, nil
}

func upstreamScheme(name string) string {
	return "refract-" + strings.NewReplacer("_", "-", "@", "-").Replace(name)
}

// watch feeds discovery updates into the connection's resolver and tells
// onChange, until ctx is done. A failed refresh changes nothing but the
// state: the last known set keeps being served.
func (u *upstream) watch(ctx context.Context, now func() time.Time, onChange func(discovery.Update)) {
	u.source.Watch(ctx, func(up discovery.Update) {
		prev := u.disc.Load()
		if up.Err != nil {
			st := &discState{err: up.Err, since: now()}
			if prev != nil {
				st.endpoints, st.known = prev.endpoints, prev.known
				if prev.err != nil {
					st.since = prev.since
				}
			}
			u.disc.Store(st)
			return
		}
		u.resolver.Update(up.Endpoints)
		u.traffic.update(up.Endpoints)
		u.disc.Store(&discState{endpoints: up.Endpoints, known: true, since: now()})
		onChange(up)
	})
}

// unavailable says why calls cannot go out at all, or "" when they can.
func (u *upstream) unavailable() string {
	st := u.disc.Load()
	switch {
	case st == nil:
		return ""
	case st.known && len(st.endpoints) == 0:
		return fmt.Sprintf("upstream %q unavailable: %s reports no healthy endpoint", u.name, u.source)
	case !st.known:
		return fmt.Sprintf("upstream %q unavailable: no endpoint known yet: %v", u.name, st.err)
	}
	return ""
}

func upstreamCredentials(t *config.UpstreamTLS) (credentials.TransportCredentials, error) {
	if t == nil {
		return insecure.NewCredentials(), nil
	}
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s holds no PEM certificate", t.CA)
		}
		conf.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(conf), nil
}
