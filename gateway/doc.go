// Package gateway assembles refract: the configuration types and their
// validation, the public HTTP handler that runs a request through route
// matching, transcoding and the upstream call (unary, or streaming over
// HTTP and WebSocket with per-upstream limits), the admin listener, the
// live OpenAPI document of the routes served, OpenTelemetry tracing, and
// the control loop that turns endpoint changes and reflected descriptors
// into new route tables.
//
// It is the only package that imports all the others; none imports it.
package gateway
