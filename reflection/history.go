package reflection

import (
	"slices"
	"time"

	"github.com/refract-gateway/refract/reflection/schemadiff"
	"google.golang.org/grpc/codes"
)

// maxVersionEndpoints caps the endpoints a Version lists: a fleet
// churning through addresses must not grow it without bound.
const maxVersionEndpoints = 64

// Version is one schema an upstream served, as History lists it (the
// admin API's JSON). A copy: holding it holds no lock.
type Version struct {
	// Hash is the descriptor set's hash (see Snapshot.Hash).
	Hash string `json:"hash"`
	// FirstSeen and LastSeen are when a fetch first and last gave it.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Endpoints are the peers that served it (at most 64, first ones
	// kept); empty for descriptor-set files.
	Endpoints []string `json:"endpoints"`
	// Source is where it came from.
	Source Source `json:"source"`
	// State is "serving" (routes are built from it), "held" (it breaks
	// clients and waits for Approve) or "superseded".
	State string `json:"state"`
	// Previous is the version it was compared with (the one before it in
	// the history), empty for the first; Breaking and Summary say what
	// changed from there.
	Previous string `json:"previous,omitempty"`
	Breaking bool   `json:"breaking"`
	Summary  string `json:"summary"`

	snap    *Snapshot
	changes []schemadiff.Change // from Previous
}

// DiffResult is the difference between two versions of an upstream's
// schema (the admin API's JSON).
type DiffResult struct {
	From    string              `json:"from"`
	To      string              `json:"to"`
	Changes []schemadiff.Change `json:"changes"`
}

// Held is a schema kept from the routes because it breaks clients.
type Held struct {
	Hash  string    `json:"hash"`
	Since time.Time `json:"since"`
	// Changes are the differences from the serving schema.
	Changes []schemadiff.Change `json:"changes"`
}

// History returns the upstream's last Options.History schema versions,
// newest first. Errors: ErrUnknownUpstream.
func (c *Cache) History(name string) ([]Version, error) {
	u := c.lookup(name)
	if u == nil {
		return nil, newError(name, codes.NotFound, "history: %w", ErrUnknownUpstream)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Version, 0, len(u.history))
	for _, v := range slices.Backward(u.history) {
		v.State = u.stateOf(v.Hash)
		v.Endpoints = slices.Clone(v.Endpoints)
		out = append(out, *v)
	}
	return out, nil
}

// Version returns the snapshot of one version of the upstream's schema,
// named by its hash or a unique prefix of it (at least 8 hex digits), for
// downloads. Errors: ErrUnknownUpstream, ErrUnknownVersion.
func (c *Cache) Version(name, hash string) (*Snapshot, error) {
	u := c.lookup(name)
	if u == nil {
		return nil, newError(name, codes.NotFound, "version: %w", ErrUnknownUpstream)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	v, err := u.find(hash)
	if err != nil {
		return nil, err
	}
	return v.snap, nil
}

// Diff compares two versions of the upstream's schema named by hash (or
// unique prefix). An empty to is the newest version; an empty from the
// one before to in the history. Errors: ErrUnknownUpstream,
// ErrUnknownVersion.
func (c *Cache) Diff(name, from, to string) (DiffResult, error) {
	u := c.lookup(name)
	if u == nil {
		return DiffResult{}, newError(name, codes.NotFound, "diff: %w", ErrUnknownUpstream)
	}
	u.mu.Lock()
	if len(u.history) == 0 {
		u.mu.Unlock()
		return DiffResult{}, newError(name, codes.NotFound, "diff: %w: the upstream has no schema yet", ErrUnknownVersion)
	}
	tv := u.history[len(u.history)-1]
	var err error
	if to != "" {
		if tv, err = u.find(to); err != nil {
			u.mu.Unlock()
			return DiffResult{}, err
		}
	}
	var fv *Version
	if from != "" {
		fv, err = u.find(from)
	} else if i := slices.Index(u.history, tv); i > 0 {
		fv = u.history[i-1]
	} else {
		err = newError(name, codes.NotFound, "diff: %w: %s is the oldest version kept; name one with from=", ErrUnknownVersion, tv.Hash)
	}
	u.mu.Unlock()
	if err != nil {
		return DiffResult{}, err
	}
	if tv.Previous == fv.Hash {
		return DiffResult{From: fv.Hash, To: tv.Hash, Changes: tv.changes}, nil
	}
	// Outside the lock: snapshots are immutable and a diff takes a while.
	return DiffResult{From: fv.Hash, To: tv.Hash, Changes: schemadiff.Diff(fv.snap.schema(), tv.snap.schema())}, nil
}

// Approve adopts the schema the upstream holds back (see
// UpstreamOptions.HoldBreaking): Snapshot returns it and subscribers hear
// of it. hash, when not empty, must name the held schema (a hash or unique
// prefix), so that an approval given for one schema never adopts another.
// It returns what was adopted. Errors: ErrUnknownUpstream, ErrNothingHeld
// (FailedPrecondition, also when hash names another schema).
func (c *Cache) Approve(name, hash string) (Held, error) {
	u := c.lookup(name)
	if u == nil {
		return Held{}, newError(name, codes.NotFound, "approve: %w", ErrUnknownUpstream)
	}
	var after func()
	defer func() {
		if after != nil {
			after()
		}
	}()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.held == nil {
		return Held{}, newError(name, codes.FailedPrecondition, "approve: %w", ErrNothingHeld)
	}
	if hash != "" && !u.held.hasHashPrefix(hash) {
		return Held{}, newError(name, codes.FailedPrecondition, "approve: %w: the held schema is %s, not %s", ErrNothingHeld, u.held.Hash, hash)
	}
	h := Held{Hash: u.held.Hash, Since: u.heldSince, Changes: u.heldChanges}
	ev := u.c.log.Warn().Str("upstream", name).Str("hash", h.Hash).Int("changes", len(h.Changes))
	after = func() { ev.Msg("held schema approved") }
	after = u.adopt(u.held, after)
	return h, nil
}

// Problem says why the upstream has no descriptors: `upstream "x" has no
// descriptors yet: ` and its latest fetch's error (the dial or reflection
// error). "" when it has descriptors, is unknown, or no fetch has failed
// yet. For 503 answers and readiness reasons; it never blocks on a fetch.
func (c *Cache) Problem(name string) string {
	u := c.lookup(name)
	if u == nil || u.snap.Load() != nil {
		return ""
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.lastCause == "" {
		return ""
	}
	return "upstream \"" + name + "\" has no descriptors yet: " + u.lastCause
}

// stateOf is the State of a Version. u.mu held.
func (u *upstream) stateOf(hash string) string {
	switch {
	case u.held != nil && u.held.Hash == hash:
		return "held"
	case u.snap.Load() != nil && u.snap.Load().Hash == hash:
		return "serving"
	}
	return "superseded"
}

// find looks a version up by hash or unique prefix. u.mu held.
func (u *upstream) find(hash string) (*Version, error) {
	if len(hash) < 8 {
		return nil, newError(u.name, codes.InvalidArgument, "%w: name a version by its hash or at least its first 8 hex digits, not %q", ErrUnknownVersion, hash)
	}
	var found *Version
	for _, v := range u.history {
		if v.snap.hasHashPrefix(hash) {
			if found != nil {
				return nil, newError(u.name, codes.InvalidArgument, "%w: %q names more than one version", ErrUnknownVersion, hash)
			}
			found = v
		}
	}
	if found == nil {
		return nil, newError(u.name, codes.NotFound, "%w: %q is not among the %d versions kept", ErrUnknownVersion, hash, len(u.history))
	}
	return found, nil
}

// observe records a fetched snapshot in the history: a known version is
// seen again (and becomes the newest), a new one is compared with the
// newest. It returns the version when it is new or comes back after
// another, nil when it was already the newest.
// u.mu held.
func (u *upstream) observe(snap *Snapshot) *Version {
	now := u.c.opts.Now()
	i := slices.IndexFunc(u.history, func(v *Version) bool { return v.Hash == snap.Hash })
	if i >= 0 {
		v := u.history[i]
		v.LastSeen = now
		if snap.Endpoint != "" && !slices.Contains(v.Endpoints, snap.Endpoint) && len(v.Endpoints) < maxVersionEndpoints {
			v.Endpoints = append(v.Endpoints, snap.Endpoint)
		}
		if i == len(u.history)-1 {
			return nil
		}
		// Served again after another (a rollback): a change from that one.
		u.history = append(slices.Delete(u.history, i, i+1), v)
		u.link(v)
		return v
	}
	v := &Version{Hash: snap.Hash, FirstSeen: now, LastSeen: now, Endpoints: []string{}, Source: snap.Source, snap: snap}
	if snap.Endpoint != "" {
		v.Endpoints = append(v.Endpoints, snap.Endpoint)
	}
	u.history = append(u.history, v)
	u.link(v)
	// Trim the oldest, but never the serving or the newest version (the
	// one being adopted or held, in place of any held before): they stay
	// listed, diffable and downloadable.
	for len(u.history) > u.c.opts.History {
		i := slices.IndexFunc(u.history[:len(u.history)-1], func(old *Version) bool { return u.stateOf(old.Hash) != "serving" })
		if i < 0 {
			break
		}
		u.history = slices.Delete(u.history, i, i+1)
	}
	return v
}

// link compares the newest version v with the one before it.
func (u *upstream) link(v *Version) {
	v.Previous, v.changes, v.Breaking, v.Summary = "", nil, false, "first version seen"
	if n := len(u.history); n > 1 {
		prev := u.history[n-2]
		v.Previous = prev.Hash
		v.changes = schemadiff.Diff(prev.snap.schema(), v.snap.schema())
		v.Breaking = schemadiff.Breaking(v.changes)
		v.Summary = schemadiff.Summary(v.changes)
	}
}

// changesFrom is the diff from the serving snapshot cur to snap, reusing
// the history's when v was compared with cur. u.mu held.
func (u *upstream) changesFrom(cur, snap *Snapshot, v *Version) []schemadiff.Change {
	if v != nil && v.Previous == cur.Hash {
		return v.changes
	}
	return schemadiff.Diff(cur.schema(), snap.schema())
}
