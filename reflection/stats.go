package reflection

import (
	"fmt"
	"time"
)

// State is where an upstream stands in the cache.
//
//	pending ──ok──▶ ready ──fail──▶ stale ──ok──▶ ready
//	   └──fail──▶ failed ──ok──▶ ready
type State int

const (
	// StatePending: added, no fetch has finished yet.
	StatePending State = iota
	// StateReady: the latest fetch succeeded; Snapshot returns its set.
	StateReady
	// StateStale: a good set is cached but the latest fetch failed; Snapshot
	// keeps returning the last good set.
	StateStale
	// StateFailed: no good set yet and the latest fetch failed; Snapshot
	// returns nil.
	StateFailed
)

// String returns "pending", "ready", "stale" or "failed".
func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateReady:
		return "ready"
	case StateStale:
		return "stale"
	case StateFailed:
		return "failed"
	default:
		return "unknown"
	}
}

// MarshalText encodes the state as its String, so that JSON (the admin API)
// shows "ready" rather than a number.
func (s State) MarshalText() ([]byte, error) {
	if s < StatePending || s > StateFailed {
		return nil, fmt.Errorf("reflection: invalid state %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a state written by MarshalText.
func (s *State) UnmarshalText(text []byte) error {
	for st := StatePending; st <= StateFailed; st++ {
		if st.String() == string(text) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("reflection: unknown state %q", text)
}

// Stats is a point-in-time view of one upstream in a Cache, for the admin API
// and metrics. It is a copy: holding it holds no lock. In JSON its keys are
// snake_case and times RFC 3339 (left out while zero); FetchDuration is
// left to the caller, to write with its unit.
type Stats struct {
	// Upstream is the name given to Add.
	Upstream string `json:"upstream"`
	// State is the upstream's state.
	State State `json:"state"`
	// Hash is the hash of the cached set, empty if none.
	Hash string `json:"hash"`
	// FetchedAt is when the latest successful fetch finished (it may be later
	// than the cached Snapshot's FetchedAt when the hash did not change).
	FetchedAt time.Time `json:"fetched_at,omitzero"`
	// Endpoint is the peer that answered the latest successful fetch.
	Endpoint string `json:"endpoint"`
	// LastError is the message of the latest failed fetch, kept after a
	// recovery so that SREs can see what happened; empty if none failed.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when that fetch failed.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// FetchDuration is how long the latest successful fetch took.
	FetchDuration time.Duration `json:"-"`
	// Refreshes counts finished fetches (successful or not); Failures counts
	// the failed ones.
	Refreshes uint64 `json:"refreshes"`
	Failures  uint64 `json:"failures"`
	// Services are the full names of the cached set's routable services.
	Services []string `json:"services"`
	// Methods is the number of methods over those services.
	Methods int `json:"methods"`
	// MethodNames are those methods' full names (see
	// Snapshot.MethodNames).
	MethodNames []string `json:"method_names"`
	// Source is where the cached set came from; empty without one.
	Source Source `json:"source,omitempty"`
	// Held is the schema kept from the routes because it breaks clients
	// (UpstreamOptions.HoldBreaking), nil when none is.
	Held *Held `json:"held,omitempty"`
	// SchemaChanges counts the new schema versions fetched since the
	// upstream was added: [0] those that break no client, [1] breaking
	// ones (compared with the version before each).
	SchemaChanges [2]uint64 `json:"schema_changes"`
}
