package upstream

import (
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"google.golang.org/grpc"
)

// SubsetOptions describe one named traffic subset of an upstream: either
// the upstream's endpoints that carry all of Tags (following discovery),
// or a Static list of addresses of its own.
type SubsetOptions struct {
	Name   string
	Tags   []string
	Static []string
}

// trafficSubsets are an upstream's named subsets, each with its own
// connection: tag subsets follow discovery (the upstream's endpoints that
// carry all their tags), static ones keep their own list. Created with the
// upstream; get is safe for concurrent use, update is called by the
// upstream's watch only.
type trafficSubsets struct {
	byName map[string]*Subset
}

// Subset is one traffic subset of an upstream. Immutable; safe for
// concurrent use.
type Subset struct {
	name     string
	tags     []string
	static   bool
	resolver *discovery.Resolver
	conn     *grpc.ClientConn
}

// Conn is the connection over the subset's endpoints.
func (s *Subset) Conn() *grpc.ClientConn { return s.conn }

func newTrafficSubsets(upstream string, cfgs []SubsetOptions, dial func(*discovery.Resolver) (*grpc.ClientConn, error)) (*trafficSubsets, error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	t := &trafficSubsets{byName: map[string]*Subset{}}
	for _, c := range cfgs {
		res := discovery.NewResolver(scheme(upstream) + "-subset-" + strings.ReplaceAll(c.Name, "_", "-"))
		conn, err := dial(res)
		if err != nil {
			t.close()
			return nil, err
		}
		s := &Subset{name: c.Name, tags: c.Tags, static: len(c.Static) > 0, resolver: res, conn: conn}
		if s.static {
			res.Update(endpointsOf(c.Static))
		}
		t.byName[c.Name] = s
	}
	return t, nil
}

// Subset is the traffic subset called name; nil when there is none. Safe
// for concurrent use.
func (u *Upstream) Subset(name string) *Subset {
	return u.traffic.get(name)
}

func (t *trafficSubsets) get(name string) *Subset {
	if t == nil {
		return nil
	}
	return t.byName[name]
}

// update gives each tag subset the endpoints carrying all its tags.
func (t *trafficSubsets) update(eps []discovery.Endpoint) {
	if t == nil {
		return
	}
	for _, s := range t.byName {
		if s.static {
			continue
		}
		var mine []discovery.Endpoint
		for _, e := range eps {
			if hasAll(e.Tags, s.tags) {
				mine = append(mine, discovery.Endpoint{Addr: e.Addr})
			}
		}
		s.resolver.Update(mine)
	}
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// retire hands the subsets' connections to retire with grace.
func (t *trafficSubsets) retire(retire func(*grpc.ClientConn, time.Duration), grace time.Duration) {
	if t == nil {
		return
	}
	for _, s := range t.byName {
		retire(s.conn, grace)
	}
}

func (t *trafficSubsets) close() {
	if t == nil {
		return
	}
	for _, s := range t.byName {
		_ = s.conn.Close()
	}
}
