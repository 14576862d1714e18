package gateway

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/grpc"
)

// schemaTracker follows which schema each endpoint of an upstream serves,
// so that while instances disagree (a rolling deploy) a method is sent
// only to the instances whose schema has it. Endpoints are grouped by the
// schema version they publish in service meta, or one group per endpoint
// when they publish none; each group is reflected on its own, through a
// connection over the group's endpoints. With fewer than two groups there
// is nothing to disagree about, and nothing is tracked: the upstream's own
// descriptors are used. Owned by the control path; guarded by
// Gateway.buildMu.
type schemaTracker struct {
	groups  map[string]*schemaGroup // by schemaKey: "meta:<version>" or "addr:<host:port>"
	subsets map[string]*subsetConn  // by sorted schema hashes
	seq     int                     // makes resolver schemes unique
}

// schemaGroup is a set of endpoints known (or presumed) to share a schema.
type schemaGroup struct {
	entry     string // the group's name in the descriptor cache: upstream@version or upstream@addr
	endpoints []string
	resolver  *discovery.Resolver
	conn      *grpc.ClientConn
}

// subsetConn balances over the endpoints of some schemas only.
type subsetConn struct {
	hashes    []string
	resolver  *discovery.Resolver
	conn      *grpc.ClientConn
	endpoints []string
}

func newSchemaTracker() *schemaTracker {
	return &schemaTracker{groups: map[string]*schemaGroup{}, subsets: map[string]*subsetConn{}}
}

// schemaKey groups an endpoint: by its published schema version when it
// has one, else by address.
func schemaKey(u *upstream, e discovery.Endpoint) string {
	if u.cfg.Consul != nil {
		if v, ok := e.Meta[u.cfg.Consul.SchemaMetaKey]; ok && v != "" {
			return "meta:" + v
		}
	}
	return "addr:" + e.Addr
}

// trackSchemas reconciles u's schema groups with a new endpoint set: new
// groups are reflected, vanished ones forgotten. Caller holds buildMu.
func (g *Gateway) trackSchemas(u *upstream, eps []discovery.Endpoint) {
	t := u.schemas
	byKey := map[string][]string{}
	for _, e := range eps {
		k := schemaKey(u, e)
		byKey[k] = append(byKey[k], e.Addr)
	}
	if len(byKey) < 2 {
		if g.cache.Snapshot(u.name) != nil {
			clear(byKey) // one schema at most: the upstream's own descriptors do
		} else {
			// The upstream's own descriptors are not fetched yet (its first
			// fetch may have found no endpoint, and it is backing off): the
			// groups already reflected for the endpoints that stay keep the
			// routes up until it has them. None is made for this alone.
			maps.DeleteFunc(byKey, func(k string, _ []string) bool { return t.groups[k] == nil })
		}
	}
	for k, grp := range t.groups {
		if _, ok := byKey[k]; !ok {
			g.cache.Remove(grp.entry)
			g.closeLater(grp.conn, 0)
			delete(t.groups, k)
		}
	}
	for k, addrs := range byKey {
		grp := t.groups[k]
		if grp == nil {
			t.seq++
			res := discovery.NewResolver(upstreamScheme(u.name) + "-g" + strconv.Itoa(t.seq))
			conn, err := u.dial(res)
			if err != nil {
				g.log.Error().Err(err).Str("upstream", u.name).Msg("schema tracking: dial failed")
				continue
			}
			_, label, _ := strings.Cut(k, ":")
			grp = &schemaGroup{entry: u.name + "@" + label, resolver: res, conn: conn}
			if err := g.cache.Add(grp.entry, conn); err != nil {
				g.log.Error().Err(err).Str("upstream", u.name).Msg("schema tracking: cache")
				_ = conn.Close()
				continue
			}
			t.groups[k] = grp
		}
		grp.endpoints = addrs
		grp.resolver.Update(endpointsOf(addrs))
	}
}

func endpointsOf(addrs []string) []discovery.Endpoint {
	eps := make([]discovery.Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = discovery.Endpoint{Addr: a}
	}
	return eps
}

// schemaClass is the endpoints that serve one schema, as the admin API
// shows them during a split.
type schemaClass struct {
	Hash      string   `json:"hash"`
	Endpoints []string `json:"endpoints"`
	Methods   int      `json:"methods"`
	// Primary marks the schema the routes are built from: the one with the
	// most methods (a rolling deploy adds them).
	Primary bool `json:"routes_built_from,omitempty"`

	snap    *reflection.Snapshot
	methods map[string]string // see methodSet
}

// schemaView is how an upstream's routes are built at the moment.
type schemaView struct {
	snap *reflection.Snapshot // routes come from it; nil: none yet
	// sig changes whenever which methods go to which endpoints may change.
	sig string
	// classes is set during a split (two or more schemas).
	classes []*schemaClass
	// only maps the gRPC paths of the methods not every schema has to the
	// connection over the endpoints whose schema has them.
	only map[string]*subsetConn
}

// conn is where calls to the method at the gRPC path go, and the schemas
// that restrict it (nil: every endpoint).
func (v *schemaView) conn(u *upstream, path string) (*grpc.ClientConn, []string) {
	if s := v.only[path]; s != nil {
		return s.conn, s.hashes
	}
	return u.conn, nil
}

// schemaView decides what u's routes are built from. Caller holds buildMu.
func (g *Gateway) schemaView(u *upstream) *schemaView {
	t := u.schemas
	byHash := map[string]*schemaClass{}
	for _, grp := range t.groups {
		snap := g.cache.Snapshot(grp.entry)
		if snap == nil {
			continue
		}
		c := byHash[snap.Hash]
		if c == nil {
			c = &schemaClass{Hash: snap.Hash, snap: snap, Methods: snap.MethodCount()}
			byHash[snap.Hash] = c
		}
		c.Endpoints = append(c.Endpoints, grp.endpoints...)
	}
	if len(byHash) < 2 {
		g.closeSubsets(u, nil)
		v := &schemaView{snap: g.cache.Snapshot(u.name)}
		if v.snap == nil && len(byHash) == 1 {
			for _, c := range byHash {
				v.snap = c.snap
			}
		}
		return v
	}
	classes := make([]*schemaClass, 0, len(byHash))
	for _, c := range byHash {
		slices.Sort(c.Endpoints)
		c.methods = methodSet(c.snap)
		classes = append(classes, c)
	}
	// Most methods first: a rolling deploy adds them, and the old instances
	// keep serving what they have. Ties: more endpoints, then the hash, so
	// that the choice is stable.
	slices.SortFunc(classes, func(a, b *schemaClass) int {
		return cmp.Or(b.Methods-a.Methods, len(b.Endpoints)-len(a.Endpoints), strings.Compare(a.Hash, b.Hash))
	})
	primary := classes[0]
	primary.Primary = true
	v := &schemaView{snap: primary.snap, classes: classes, only: map[string]*subsetConn{}}
	hashes := make([]string, len(classes))
	for i, c := range classes {
		hashes[i] = c.Hash
	}
	v.sig = primary.Hash + "|" + strings.Join(hashes, ",")
	used := map[string]bool{}
	for m, path := range primary.methods {
		var have []*schemaClass
		for _, c := range classes {
			if _, ok := c.methods[m]; ok {
				have = append(have, c)
			}
		}
		if len(have) == len(classes) {
			continue
		}
		s := g.subset(u, have)
		if s == nil {
			continue // could not dial: the method goes to everyone, as before tracking
		}
		used[strings.Join(s.hashes, ",")] = true
		v.only[path] = s
	}
	g.closeSubsets(u, used)
	return v
}

// methodSet maps a snapshot's methods, keyed with their request and
// response types (a method whose types changed counts as another), to
// their gRPC paths.
func methodSet(snap *reflection.Snapshot) map[string]string {
	out := map[string]string{}
	for _, sd := range snap.Services {
		ms := sd.Methods()
		for i := 0; i < ms.Len(); i++ {
			md := ms.Get(i)
			path := "/" + string(sd.FullName()) + "/" + string(md.Name())
			out[path+" "+string(md.Input().FullName())+" "+string(md.Output().FullName())] = path
		}
	}
	return out
}

// subset returns the connection over the endpoints of the given schemas,
// creating it or updating its endpoints. Caller holds buildMu.
func (g *Gateway) subset(u *upstream, classes []*schemaClass) *subsetConn {
	hashes := make([]string, len(classes))
	var addrs []string
	for i, c := range classes {
		hashes[i] = c.Hash
		addrs = append(addrs, c.Endpoints...)
	}
	slices.Sort(hashes)
	slices.Sort(addrs)
	key := strings.Join(hashes, ",")
	s := u.schemas.subsets[key]
	if s == nil {
		u.schemas.seq++
		res := discovery.NewResolver(upstreamScheme(u.name) + "-s" + strconv.Itoa(u.schemas.seq))
		conn, err := u.dial(res)
		if err != nil {
			g.log.Error().Err(err).Str("upstream", u.name).Msg("schema subset: dial failed")
			return nil
		}
		s = &subsetConn{hashes: hashes, resolver: res, conn: conn}
		u.schemas.subsets[key] = s
	}
	if !slices.Equal(s.endpoints, addrs) {
		s.endpoints = addrs
		s.resolver.Update(endpointsOf(addrs))
	}
	return s
}

// closeSubsets closes u's subset connections not in keep, after the
// upstream's timeout, so calls already on them can finish.
func (g *Gateway) closeSubsets(u *upstream, keep map[string]bool) {
	for k, s := range u.schemas.subsets {
		if !keep[k] {
			g.closeLater(s.conn, u.timeout)
			delete(u.schemas.subsets, k)
		}
	}
}

// forgetSchemas drops all of u's tracking (the upstream is going away).
// Caller holds buildMu.
func (g *Gateway) forgetSchemas(u *upstream) {
	g.trackSchemas(u, nil)
	g.closeSubsets(u, nil)
}

// closeLater closes conn after grace, or when the gateway closes.
func (g *Gateway) closeLater(conn *grpc.ClientConn, grace time.Duration) {
	if grace <= 0 {
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
