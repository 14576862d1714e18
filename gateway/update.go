package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/reflection"
)

// Update applies o's Upstreams and Policies to the running gateway and
// keeps everything else: an upstream whose name and Key (non-empty) are
// those of a running one is kept as it is (its connections, discovery
// watch, descriptors and routes, and the streams open on them); any other
// is built anew, and replaces the running one of its name only once its
// descriptors arrived; upstreams o no longer has are removed. Every
// route's chain and call plan is then compiled again from o.Policies, so
// the state those keep across configs (breakers, buckets) carries over.
//
// The new upstreams that are not Optional must answer reflection before
// ctx ends; otherwise Update changes nothing and says which did not.
// Until the new upstreams are swapped in, the old ones serve their
// routes. The other fields of o are not applied (build a new Gateway to
// change them) but for Release, called by Close. On error, o's Policies
// and Release have been closed. Safe for concurrent use; Updates run one
// at a time.
func (g *Gateway) Update(ctx context.Context, o Options) error {
	g.updMu.Lock()
	defer g.updMu.Unlock()
	if o.Policies == nil {
		o.Policies = noPolicies{log: g.log}
	}
	running := map[string]*upstream{}
	for _, u := range g.upstreamList() {
		if !u.auto {
			running[u.name] = u
		}
	}
	configured := map[string]bool{}
	var fresh []*upstream
	fail := func(err error) error {
		for _, u := range fresh {
			u.cancel()
			<-u.done
			_ = u.conns.Close()
		}
		_ = o.Policies.Close()
		if o.Release != nil {
			o.Release()
		}
		return err
	}
	for _, uo := range o.Upstreams {
		configured[uo.Conn.Name] = true
		if u := running[uo.Conn.Name]; u != nil && uo.Key != "" && uo.Key == u.key {
			continue
		}
		u, err := newUpstream(uo, g, g.dialOpts...)
		if err != nil {
			return fail(err)
		}
		u.staged.Store(true)
		fresh = append(fresh, u)
		g.follow(u)
	}
	if err := g.firstFetch(ctx, fresh); err != nil {
		return fail(err)
	}

	// From here on nothing fails: the new policies, then the upstreams.
	oldPol := g.pol.start(g, o.Policies)
	if o.Release != nil {
		g.releases = append(g.releases, o.Release)
	}
	g.upMu.Lock()
	g.configured = configured
	g.upMu.Unlock()
	for _, u := range g.upstreamList() {
		if (u.auto && configured[u.name]) || (!u.auto && !configured[u.name]) {
			g.removeUpstream(u)
		}
	}
	for _, u := range fresh {
		if old := running[u.name]; old != nil {
			g.replaceUpstream(old, u)
		} else {
			g.upMu.Lock()
			g.ups = append(g.ups, u)
			g.upMu.Unlock()
		}
		g.promote(u)
	}
	g.upMu.Lock()
	order := map[string]int{}
	for i, uo := range o.Upstreams {
		order[uo.Conn.Name] = i + 1
	}
	rank := func(u *upstream) int { // configured in config order, then auto-exposed
		if r := order[u.name]; r > 0 && !u.auto {
			return r
		}
		return len(order) + 1
	}
	slices.SortStableFunc(g.ups, func(a, b *upstream) int { return rank(a) - rank(b) })
	g.upMu.Unlock()

	g.buildMu.Lock()
	g.rebindLocked()
	g.rebuildRoutesLocked()
	g.buildMu.Unlock()
	if err := g.pol.stop(oldPol); err != nil {
		g.log.Warn().Err(err).Msg("closing the previous policies")
	}
	return nil
}

// firstFetch waits until every upstream of fresh that is not Optional
// has descriptors from its sources (or its persisted snapshot), through
// a cache of its own (the gateway's keeps serving the running upstreams
// of the same names), or ctx ends.
func (g *Gateway) firstFetch(ctx context.Context, fresh []*upstream) error {
	var need []*upstream
	for _, u := range fresh {
		if !u.o.Optional {
			need = append(need, u)
		}
	}
	if len(need) == 0 {
		return nil
	}
	cache, err := reflection.NewCache(g.refl)
	if err != nil {
		return err
	}
	defer cache.Close()
	for _, u := range need {
		if err := cache.AddWith(u.name, u.conns.Conn(), u.o.Descriptors); err != nil {
			return err
		}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		var missing []string
		for _, u := range need {
			if cache.Snapshot(u.name) == nil {
				missing = append(missing, u.name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var why []string // the dial or reflection error, not just the deadline
			for _, name := range missing {
				if p := cache.Problem(name); p != "" {
					why = append(why, p)
				}
			}
			return fmt.Errorf("gateway: upstreams without descriptors: %v (%s): %w", missing, strings.Join(why, "; "), ctx.Err())
		case <-t.C:
		}
	}
}

// replaceUpstream puts u in old's place. Old's routes are served, on its
// connections, until u's are built (rebuildRoutesLocked retires it then).
func (g *Gateway) replaceUpstream(old, u *upstream) {
	old.cancel()
	<-old.done
	g.buildMu.Lock()
	u.pred = old
	if old.pred != nil { // old never served: the one before it still does
		u.pred = old.pred
		defer old.conns.Retire()
	}
	old.conns.ForgetSchemas(g.cache)
	g.upMu.Lock()
	if i := slices.Index(g.ups, old); i >= 0 {
		g.ups[i] = u
	} else {
		g.ups = append(g.ups, u)
	}
	g.upMu.Unlock()
	g.buildMu.Unlock()
	g.cache.Remove(old.name)
}

// promote makes a staged upstream serve: its descriptors are fetched into
// the gateway's cache and its endpoints' schemas tracked.
func (g *Gateway) promote(u *upstream) {
	if err := g.cache.AddWith(u.name, u.conns.Conn(), u.o.Descriptors); err != nil {
		g.log.Error().Err(err).Str("upstream", u.name).Msg("update: the descriptor cache refused the upstream")
	}
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	u.staged.Store(false)
	if st := u.conns.State(); st != nil && st.Known {
		u.conns.TrackSchemas(g.cache, st.Endpoints)
	}
	g.rebuildRoutesLocked()
}

// rebindLocked compiles every built route's chain and call plan again,
// from the current policies, into new route values (the table being
// served keeps the old ones until the next swap). Descriptors and
// bindings are reused. Call with buildMu held.
func (g *Gateway) rebindLocked() {
	for name, set := range g.built {
		next := *set
		next.entries = slices.Clone(set.entries)
		for i := range next.entries {
			rt := *next.entries[i].Value
			next.entries[i].Value = &rt
		}
		g.attachPolicies(name, &next)
		g.built[name] = &next
	}
}
