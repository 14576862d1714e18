package transform

import (
	"sync/atomic"

	"google.golang.org/grpc/codes"
)

// Stats counts the edits transforms make, by how: on wire bytes (the
// fast path) or on a dynamic message (the call already used one: a
// validated route, a type the fast path leaves to protojson). Safe for
// concurrent use; the zero value is ready. The gateway keeps one across
// route rebuilds.
type Stats struct {
	wireRequests, dynamicRequests   atomic.Uint64
	wireResponses, dynamicResponses atomic.Uint64
	bodies                          atomic.Uint64
}

// Snapshot is a point-in-time copy of Stats.
type Snapshot struct {
	// WireRequests and DynamicRequests count requests whose fields were
	// edited as wire bytes or on a dynamic message.
	WireRequests    uint64 `json:"wire_requests"`
	DynamicRequests uint64 `json:"dynamic_requests"`
	// WireResponses and DynamicResponses count responses with omitted
	// fields, likewise.
	WireResponses    uint64 `json:"wire_responses"`
	DynamicResponses uint64 `json:"dynamic_responses"`
	// Bodies counts JSON bodies renamed or wrapped in an envelope.
	Bodies uint64 `json:"bodies"`
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{WireRequests: s.wireRequests.Load(), DynamicRequests: s.dynamicRequests.Load(),
		WireResponses: s.wireResponses.Load(), DynamicResponses: s.dynamicResponses.Load(), Bodies: s.bodies.Load()}
}

// codeNames are the gRPC codes' canonical names, as google.rpc.Code
// spells them.
var codeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// CodeName is c's canonical name (NOT_FOUND); the number for codes
// outside the canonical set.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return c.String()
}

// ParseCode reads a canonical code name (NOT_FOUND).
func ParseCode(name string) (codes.Code, bool) {
	for i, n := range codeNames {
		if n == name {
			return codes.Code(i), true
		}
	}
	return 0, false
}
