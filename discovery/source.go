package discovery

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// Endpoint is one address serving an upstream.
type Endpoint struct {
	// Addr is host:port.
	Addr string
	// ID is the source's name for the instance (Consul's service ID);
	// empty for static endpoints.
	ID string
	// Tags and Meta are the instance's Consul tags and service meta; nil
	// for static endpoints. Read-only.
	Tags []string
	Meta map[string]string
}

// Update is one endpoint set pushed by a Source.
type Update struct {
	// Endpoints is the full current set (not a delta).
	// Empty means the source knows of no healthy endpoint.
	Endpoints []Endpoint
	// Err, when set, says the source could not refresh; Endpoints is then
	// the last set it knew, which callers keep serving.
	Err error
}

// Source watches the endpoints of one upstream.
type Source interface {
	// Watch calls push with every new endpoint set until ctx is done, the
	// first as soon as it is known. push is called from one goroutine at a
	// time. Watch returns when ctx is done.
	Watch(ctx context.Context, push func(Update))
	// String describes the source for logs and the admin API.
	String() string
}

// Refresher is a Source that can look again at once when asked, as DNS
// can: the upstream's connections ask when a connection to an endpoint
// fails, so that a backend that moved is followed before the next
// interval.
type Refresher interface {
	Source
	// ResolveNow asks for a fresh look soon; it never blocks.
	ResolveNow()
}

// Static is a fixed endpoint list. Immutable; safe for concurrent use.
type Static struct {
	endpoints []Endpoint
}

// NewStatic validates addrs (each host:port with a numeric port) and
// returns a source that pushes them once.
func NewStatic(addrs []string) (*Static, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("discovery: static source needs at least one address")
	}
	s := &Static{endpoints: make([]Endpoint, 0, len(addrs))}
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		if err := checkAddr(a); err != nil {
			return nil, err
		}
		if seen[a] {
			return nil, fmt.Errorf("discovery: static address %q listed twice", a)
		}
		seen[a] = true
		s.endpoints = append(s.endpoints, Endpoint{Addr: a})
	}
	return s, nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("discovery: address %q: want host:port: %w", a, err)
	}
	if host == "" {
		return fmt.Errorf("discovery: address %q: empty host", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("discovery: address %q: port must be 1-65535", a)
	}
	return nil
}

// Watch pushes the list once and waits for ctx.
func (s *Static) Watch(ctx context.Context, push func(Update)) {
	push(Update{Endpoints: append([]Endpoint(nil), s.endpoints...)})
	<-ctx.Done()
}

func (s *Static) String() string {
	return fmt.Sprintf("static(%d)", len(s.endpoints))
}
