package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"google.golang.org/grpc"
)

// addUpstream connects an upstream, starts fetching its descriptors and
// following its endpoints. Its routes appear once descriptors arrive.
func (g *Gateway) addUpstream(o UpstreamOptions, auto bool) error {
	u, err := newUpstream(o, g, g.dialOpts...)
	if err != nil {
		return err
	}
	u.auto = auto
	if err := g.cache.AddWith(u.name, u.conns.Conn(), o.Descriptors); err != nil {
		_ = u.conns.Close()
		return err
	}
	g.upMu.Lock()
	g.ups = append(g.ups, u)
	g.upMu.Unlock()
	g.follow(u)
	return nil
}

// follow starts following u's endpoints, and asking for its descriptors
// again when its connection comes back, until u.cancel.
func (g *Gateway) follow(u *upstream) {
	ctx, cancel := context.WithCancel(g.ctx)
	u.cancel, u.done = cancel, make(chan struct{})
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		// A new method's route cannot wait for UNIMPLEMENTED to ask for
		// fresh descriptors: it has no route yet. The cache rate-limits.
		u.conns.OnReconnect(ctx, func() { g.cache.RequestRefresh(u.name, "the connection came back") })
	}()
	go func() {
		defer g.wg.Done()
		defer close(u.done)
		first := true
		u.conns.Watch(ctx, g.now, func(up discovery.Update) {
			if u.staged.Load() {
				first = false // the cache fetches with what is known when u is promoted
				return
			}
			// The first set is what the cache is already fetching with;
			// later ones may bring instances with a new schema.
			if !first {
				g.cache.EndpointsChanged(u.name)
			}
			first = false
			g.buildMu.Lock()
			defer g.buildMu.Unlock()
			u.conns.TrackSchemas(g.cache, up.Endpoints)
			g.rebuildRoutesLocked()
		})
	}()
}

// undescribed says why a path that matched no route may still be an
// upstream's: it lies under the path_prefix of an upstream that has no
// descriptors yet, whose error it names. "" otherwise.
func (g *Gateway) undescribed(path string) string {
	for _, u := range g.upstreamList() {
		p := u.o.PathPrefix
		if p != "" && (path == p || strings.HasPrefix(path, p+"/")) && g.cache.Snapshot(u.name) == nil {
			if why := g.cache.Problem(u.name); why != "" {
				return why
			}
			return fmt.Sprintf("upstream %q has no descriptors yet: its first fetch has not finished", u.name)
		}
	}
	return ""
}

// removeUpstream stops following an upstream and drops its routes. Calls
// already on its connections get the upstream's timeout to finish.
func (g *Gateway) removeUpstream(u *upstream) {
	g.upMu.Lock()
	g.ups = slices.DeleteFunc(g.ups, func(x *upstream) bool { return x == u })
	g.upMu.Unlock()
	u.cancel()
	<-u.done
	g.cache.Remove(u.name)
	g.buildMu.Lock()
	u.conns.ForgetSchemas(g.cache)
	delete(g.built, u.name)
	g.rebuildRoutesLocked()
	if u.pred != nil {
		u.pred.conns.Retire()
		u.pred = nil
	}
	g.buildMu.Unlock()
	u.conns.Retire()
}

// closeLater closes conn after grace, or when the gateway closes.
func (g *Gateway) closeLater(conn *grpc.ClientConn, grace time.Duration) {
	g.closeMu.Lock() // no wg.Add once Close waits on wg
	defer g.closeMu.Unlock()
	if grace <= 0 || g.ctx.Err() != nil {
		_ = conn.Close()
		return
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-g.ctx.Done():
		}
		_ = conn.Close()
	}()
}

// upstreamList is the current upstreams: configured ones in config order,
// then auto-exposed ones in the order they appeared.
func (g *Gateway) upstreamList() []*upstream {
	g.upMu.Lock()
	defer g.upMu.Unlock()
	return slices.Clone(g.ups)
}

// UpstreamInfo is one upstream's state for the admin API.
type UpstreamInfo struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Auto is true for services exposed from Consul by tag.
	Auto bool `json:"auto,omitempty"`
	// Discovery is "ok", "stale" (the source fails; the last known
	// endpoints are served) or "waiting" (nothing known yet; with Error
	// when the source fails before its first answer).
	Discovery string `json:"discovery"`
	// Error and Since say why and since when discovery is stale.
	Error string    `json:"error,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// ConsulIndex is the index of Consul's last answer, for upstreams
	// discovered there: it moves whenever Consul saw a change.
	ConsulIndex uint64 `json:"consul_index,omitempty"`
	// Datacenter is the Consul datacenter served, for upstreams listing
	// several ("" while none has passing instances).
	Datacenter string `json:"datacenter,omitempty"`
	// Balancer is the grpc-go balancing policy; HealthCheck says whether
	// endpoints are probed with grpc.health.v1.
	Balancer    string `json:"balancer"`
	HealthCheck bool   `json:"health_check"`
	// Connectivity is the upstream connection's state as grpc-go sees it
	// across its endpoints: IDLE, CONNECTING, READY, TRANSIENT_FAILURE.
	Connectivity string         `json:"connectivity"`
	Endpoints    []EndpointInfo `json:"endpoints"`
	// Schemas is set while endpoints serve different schemas: which
	// endpoints serve which descriptor hash, and which one the routes are
	// built from. Methods missing from some schemas go only to the
	// endpoints that have them (see restricted_to in /admin/routes).
	Schemas []*upconn.SchemaClass `json:"schemas,omitempty"`
}

// EndpointInfo is one endpoint as discovery reports it.
type EndpointInfo struct {
	Addr string            `json:"addr"`
	ID   string            `json:"id,omitempty"`
	Tags []string          `json:"tags,omitempty"`
	Meta map[string]string `json:"meta,omitempty"`
	// EndpointConn is its transport state and last error, with times.
	upconn.EndpointConn
}

// Upstreams describes every upstream's discovery state and schema split.
func (g *Gateway) Upstreams() []UpstreamInfo {
	var out []UpstreamInfo
	for _, u := range g.upstreamList() {
		info := UpstreamInfo{Name: u.name, Source: u.conns.Source().String(), Auto: u.auto, Discovery: "waiting", Endpoints: []EndpointInfo{},
			Balancer: u.o.Conn.Balancer, HealthCheck: u.o.Conn.HealthCheck, Connectivity: u.conns.Conn().GetState().String()}
		if c, ok := u.conns.Source().(interface{ LastIndex() uint64 }); ok {
			info.ConsulIndex = c.LastIndex()
		}
		if c, ok := u.conns.Source().(interface{ Datacenter() string }); ok {
			info.Datacenter = c.Datacenter()
		}
		if st := u.conns.State(); st != nil {
			info.Discovery, info.Error, info.Since = st.Describe()
			for _, e := range st.Endpoints {
				info.Endpoints = append(info.Endpoints, EndpointInfo{Addr: e.Addr, ID: e.ID, Tags: e.Tags, Meta: e.Meta, EndpointConn: u.conns.EndpointConn(e.Addr)})
			}
		}
		g.buildMu.Lock()
		if b := g.built[u.name]; b != nil {
			info.Schemas = b.classes
		}
		g.buildMu.Unlock()
		out = append(out, info)
	}
	return out
}

// DiscoveryProblems lists the upstreams whose discovery source fails:
// stale ones, served from their last known endpoint set, and failing ones,
// whose source has failed since before its first answer: they have no
// endpoints and so no routes, and the source's error (e.g. Consul OSS
// refusing a namespace) is the only thing that tells the operator why.
func (g *Gateway) DiscoveryProblems() (stale, failing []string) {
	for _, u := range g.upstreamList() {
		switch msg, isStale := u.conns.Problem(); {
		case msg == "":
		case isStale:
			stale = append(stale, "upstream "+u.name+": "+msg)
		default:
			failing = append(failing, "upstream "+u.name+": "+msg)
		}
	}
	return stale, failing
}

// AutoExposed reports auto-exposure from Consul's catalog: whether the
// catalog watch has answered once, and each auto-exposed upstream listed
// with whether its routes are being served. Safe for concurrent use.
func (g *Gateway) AutoExposed() (synced bool, routed map[string]bool) {
	synced = g.autoSynced.Load()
	var served map[string]bool
	if p := g.routed.Load(); p != nil {
		served = *p
	}
	routed = map[string]bool{}
	for _, u := range g.upstreamList() {
		if u.auto {
			routed[u.name] = served[u.name]
		}
	}
	return synced, routed
}
