// Package transform reshapes one route's calls as its config says:
// request fields set from a header, a JWT claim, the consumer, a constant
// or another field (overriding what the client sent) or removed; request
// metadata set, removed or renamed; response fields omitted or renamed,
// the body wrapped in an envelope, response headers set or removed; and
// upstream errors mapped to another HTTP status or body.
//
// A Spec is compiled per route against the binding's descriptors
// (Compile), so a field that does not exist or cannot take the value is
// an error at route build, never a surprise per request; the compiled
// Route is immutable and safe for concurrent use. Edits are made on the
// protobuf wire bytes the fast path builds and receives (fields are
// dropped by scanning tags, a set value is appended: the last occurrence
// of a singular field wins and embedded messages merge), on the dynamic
// message when the call already uses one, and on the rendered JSON for
// renames and envelopes. It owns none of the call: the engine decides
// where each step runs.
package transform
