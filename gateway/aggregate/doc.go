// Package aggregate serves aggregation endpoints: an HTTP route answered by
// calling several gRPC methods, in parallel but for calls that wait on
// another call's response field, and merging their typed responses into
// one JSON object. Each call runs its method's own route chain in process
// (auth, limits, breaker, retries) through the engine's Invoke, behind the
// aggregate route's own policies. Every route build checks the aggregates
// against the current descriptors (the methods, every field set, picked or
// depended on, with compatible types); an aggregate that does not check is
// not served, and its problem names the aggregate, the call and the field.
// It owns neither the YAML schema (gateway/setup translates it) nor the
// engine's routes.
package aggregate
