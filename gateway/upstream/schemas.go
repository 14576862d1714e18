package upstream

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"

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
// descriptors are used. Owned by the control path, which serializes every
// call that reaches it.
type schemaTracker struct {
	groups  map[string]*schemaGroup // by schemaKey: "meta:<version>" or "addr:<host:port>"
	subsets map[string]*subsetConn  // by sorted schema hashes
	seq     int                     // makes resolver schemes unique
	// last is the snapshot the last view was built from; a view that
	// finds none falls back to it. While the upstream's own descriptors
	// are not fetched yet, the groups' give the routes; an endpoint set
	// that then empties removes every group, and without last the routes
	// would go with them (404 instead of "no healthy endpoint"), where
	// the upstream's own cache entry keeps its last good set.
	last *reflection.Snapshot
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
func (u *Upstream) schemaKey(e discovery.Endpoint) string {
	if u.schemaMetaKey != "" {
		if v, ok := e.Meta[u.schemaMetaKey]; ok && v != "" {
			return "meta:" + v
		}
	}
	return "addr:" + e.Addr
}

// TrackSchemas reconciles the upstream's schema groups with a new
// endpoint set: new groups are added to cache (which reflects them),
// vanished ones removed from it and their connections closed. Not safe for
// concurrent use with itself, SchemaView or ForgetSchemas: the caller
// serializes them (a gateway does under the lock of its route builds).
func (u *Upstream) TrackSchemas(cache *reflection.Cache, eps []discovery.Endpoint) {
	t := u.schemas
	byKey := map[string][]string{}
	for _, e := range eps {
		k := u.schemaKey(e)
		byKey[k] = append(byKey[k], e.Addr)
	}
	if u.noGroups {
		clear(byKey) // nothing to reflect: the upstream's descriptors come from files
	} else if len(byKey) < 2 {
		if cache.Snapshot(u.name) != nil {
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
			cache.Remove(grp.entry)
			u.retire(grp.conn, 0)
			delete(t.groups, k)
		}
	}
	for k, addrs := range byKey {
		grp := t.groups[k]
		if grp == nil {
			t.seq++
			res := discovery.NewResolver(scheme(u.name) + "-g" + strconv.Itoa(t.seq))
			conn, err := u.dial(res)
			if err != nil {
				u.log.Error().Err(err).Str("upstream", u.name).Msg("schema tracking: dial failed")
				continue
			}
			_, label, _ := strings.Cut(k, ":")
			grp = &schemaGroup{entry: u.name + "@" + label, resolver: res, conn: conn}
			if err := cache.AddWith(grp.entry, conn, u.groupOpts); err != nil {
				u.log.Error().Err(err).Str("upstream", u.name).Msg("schema tracking: cache")
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

// SchemaClass is the endpoints that serve one schema, as an admin API
// shows them during a split. Immutable once a SchemaView holds it.
type SchemaClass struct {
	Hash      string   `json:"hash"`
	Endpoints []string `json:"endpoints"`
	Methods   int      `json:"methods"`
	// Primary marks the schema the routes are built from: the one with the
	// most methods (a rolling deploy adds them).
	Primary bool `json:"routes_built_from,omitempty"`

	snap    *reflection.Snapshot
	methods map[string]string // see methodSet
}

// SchemaView is how an upstream's routes are built at the moment.
// Immutable.
type SchemaView struct {
	// Snap is the descriptors routes come from; nil: none yet.
	Snap *reflection.Snapshot
	// Sig changes whenever which methods go to which endpoints may change.
	Sig string
	// Classes is set during a split (two or more schemas).
	Classes []*SchemaClass

	// only maps the gRPC paths of the methods not every schema has to the
	// connection over the endpoints whose schema has them.
	only map[string]*subsetConn
	// all is the upstream's connection, over every endpoint.
	all *grpc.ClientConn
}

// Conn is where calls to the method at the gRPC path
// (/package.Service/Method) go, and the schema hashes that restrict it
// (nil: every endpoint).
func (v *SchemaView) Conn(path string) (*grpc.ClientConn, []string) {
	if s := v.only[path]; s != nil {
		return s.conn, s.hashes
	}
	return v.all, nil
}

// SchemaView decides what the upstream's routes are built from: the
// upstream's own descriptors in cache while its endpoints agree, else the
// schema with the most methods, with the methods the others lack sent only
// to the endpoints that have them. When neither is there any more (the
// endpoint set emptied before the upstream's own descriptors were
// fetched), the descriptors of the previous view stay. Serialized with
// TrackSchemas.
func (u *Upstream) SchemaView(cache *reflection.Cache) *SchemaView {
	t := u.schemas
	byHash := map[string]*SchemaClass{}
	for _, grp := range t.groups {
		snap := cache.Snapshot(grp.entry)
		if snap == nil {
			continue
		}
		c := byHash[snap.Hash]
		if c == nil {
			c = &SchemaClass{Hash: snap.Hash, snap: snap, Methods: snap.MethodCount()}
			byHash[snap.Hash] = c
		}
		c.Endpoints = append(c.Endpoints, grp.endpoints...)
	}
	if len(byHash) < 2 {
		u.closeSubsets(nil)
		v := &SchemaView{Snap: cache.Snapshot(u.name), all: u.conn}
		if v.Snap == nil && len(byHash) == 1 {
			for _, c := range byHash {
				v.Snap = c.snap
			}
		}
		if v.Snap == nil {
			v.Snap = t.last
		}
		t.last = v.Snap
		return v
	}
	classes := make([]*SchemaClass, 0, len(byHash))
	for _, c := range byHash {
		slices.Sort(c.Endpoints)
		c.methods = methodSet(c.snap)
		classes = append(classes, c)
	}
	// Most methods first: a rolling deploy adds them, and the old instances
	// keep serving what they have. Ties: more endpoints, then the hash, so
	// that the choice is stable.
	slices.SortFunc(classes, func(a, b *SchemaClass) int {
		return cmp.Or(b.Methods-a.Methods, len(b.Endpoints)-len(a.Endpoints), strings.Compare(a.Hash, b.Hash))
	})
	primary := classes[0]
	primary.Primary = true
	t.last = primary.snap
	v := &SchemaView{Snap: primary.snap, Classes: classes, only: map[string]*subsetConn{}, all: u.conn}
	hashes := make([]string, len(classes))
	for i, c := range classes {
		hashes[i] = c.Hash
	}
	v.Sig = primary.Hash + "|" + strings.Join(hashes, ",")
	used := map[string]bool{}
	for m, path := range primary.methods {
		var have []*SchemaClass
		for _, c := range classes {
			if _, ok := c.methods[m]; ok {
				have = append(have, c)
			}
		}
		if len(have) == len(classes) {
			continue
		}
		s := u.subset(have)
		if s == nil {
			continue // could not dial: the method goes to everyone, as before tracking
		}
		used[strings.Join(s.hashes, ",")] = true
		v.only[path] = s
	}
	u.closeSubsets(used)
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
// creating it or updating its endpoints.
func (u *Upstream) subset(classes []*SchemaClass) *subsetConn {
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
		res := discovery.NewResolver(scheme(u.name) + "-s" + strconv.Itoa(u.schemas.seq))
		conn, err := u.dial(res)
		if err != nil {
			u.log.Error().Err(err).Str("upstream", u.name).Msg("schema subset: dial failed")
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

// closeSubsets retires the subset connections not in keep with the
// upstream's timeout, so calls already on them can finish.
func (u *Upstream) closeSubsets(keep map[string]bool) {
	for k, s := range u.schemas.subsets {
		if !keep[k] {
			u.retire(s.conn, u.timeout)
			delete(u.schemas.subsets, k)
		}
	}
}

// ForgetSchemas drops all of the upstream's schema tracking: its groups
// leave cache and every schema connection is closed or retired (the
// upstream is going away). Serialized with TrackSchemas.
func (u *Upstream) ForgetSchemas(cache *reflection.Cache) {
	u.TrackSchemas(cache, nil)
	u.closeSubsets(nil)
	u.schemas.last = nil
}
