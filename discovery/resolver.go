package discovery

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	// least_request is grpc-go's; importing it makes the policy available
	// to ServiceConfig, as importing health enables healthCheckConfig.
	_ "google.golang.org/grpc/balancer/leastrequest"
	_ "google.golang.org/grpc/health"
	"google.golang.org/grpc/resolver"
)

// Resolver is a grpc resolver.Builder for one upstream, fed by Update. It is
// handed to that upstream's ClientConn with grpc.WithResolvers, so nothing
// is registered globally. The last state is kept, so a ClientConn that
// builds (or rebuilds) its resolver after an update still starts from it.
// Safe for concurrent use.
type Resolver struct {
	scheme  string
	refresh func() // see OnResolveNow; nil: none

	mu    sync.Mutex
	cc    resolver.ClientConn
	state *resolver.State
}

// NewResolver returns a resolver for scheme, which must be unique per
// ClientConn (use the upstream name, made scheme-safe by Scheme).
func NewResolver(scheme string) *Resolver {
	return &Resolver{scheme: scheme}
}

// OnResolveNow makes grpc-go's requests to resolve again (it makes them
// when a connection to an endpoint fails) call f, which must not block: a
// source that can look again at once (a Refresher) is handed here. Call
// it before the resolver is used.
func (r *Resolver) OnResolveNow(f func()) *Resolver {
	r.refresh = f
	return r
}

// Scheme implements resolver.Builder.
func (r *Resolver) Scheme() string { return r.scheme }

// Target is the dial target for grpc.NewClient.
func (r *Resolver) Target() string { return r.scheme + ":///upstream" }

// DialOption installs the resolver on a ClientConn.
func (r *Resolver) DialOption() grpc.DialOption { return grpc.WithResolvers(r) }

// Build implements resolver.Builder.
func (r *Resolver) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cc = cc
	if r.state != nil {
		// A rejected set (e.g. empty) is reported to callers by the
		// balancer itself, so the error needs no handling here.
		_ = cc.UpdateState(*r.state)
	}
	return (*built)(r), nil
}

// Update replaces the endpoint set. With an empty set calls fail with
// UNAVAILABLE; callers that know the set is empty should say so themselves,
// as grpc-go's message ("no children to pick from") does not.
func (r *Resolver) Update(eps []Endpoint) {
	st := resolver.State{Endpoints: make([]resolver.Endpoint, 0, len(eps))}
	for _, e := range eps {
		st.Endpoints = append(st.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: e.Addr}}})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = &st
	if r.cc == nil {
		return
	}
	// An empty set is installed too, so that no call goes to an instance
	// discovery has dropped; the balancer then fails calls with UNAVAILABLE.
	_ = r.cc.UpdateState(st)
}

type built Resolver

// ResolveNow implements resolver.Resolver: sources push, so only those
// that can look again on demand (see OnResolveNow) are told.
func (b *built) ResolveNow(resolver.ResolveNowOptions) {
	if f := (*Resolver)(b).refresh; f != nil {
		f()
	}
}

// Close implements resolver.Resolver.
func (b *built) Close() {
	r := (*Resolver)(b)
	r.mu.Lock()
	r.cc = nil
	r.mu.Unlock()
}

// ServiceConfig returns the service config JSON choosing a grpc-go load
// balancing policy by name ("round_robin", "pick_first", "least_request" …)
// and, with healthCheck, grpc-go's client-side health checking: each
// endpoint is watched through grpc.health.v1.Health/Watch and only SERVING
// ones receive calls (endpoints without the health service count as
// serving, as grpc-go treats UNIMPLEMENTED).
func ServiceConfig(policy string, healthCheck bool) string {
	switch policy {
	case "":
		policy = "round_robin"
	case "least_request":
		policy = "least_request_experimental"
	}
	hc := ""
	if healthCheck {
		hc = `,"healthCheckConfig":{"serviceName":""}`
	}
	return fmt.Sprintf(`{"loadBalancingConfig":[{%q:{}}]%s}`, policy, hc)
}
