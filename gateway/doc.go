// Package gateway is refract's engine: New builds, from runtime Options
// (upstreams with their discovery sources, policies, limits, products —
// never the YAML schema, which gateway/setup translates), the public
// http.Handler that runs a request through the policy chain, route
// matching, transcoding and the upstream call (unary, or streaming over
// HTTP and WebSocket with per-upstream limits), the live OpenAPI document
// of the routes served, and the control loop that turns endpoint changes
// and reflected descriptors into new route tables; Update applies new
// upstreams and policies to a running engine, keeping what did not
// change. It exports a read model
// (Routes, Upstreams, Breakers, Cache, FastPathStats …) and takes what it
// reports to through options: an Observer for metrics, middleware around
// its handler and dial options (tracing). It owns no listener, no reload
// and no drain (a server around it does), serves no admin API, and imports
// neither Prometheus nor OpenTelemetry.
package gateway
