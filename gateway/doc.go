// Package gateway assembles refract: the configuration types and their
// validation, the public HTTP handler that runs a request through route
// matching, transcoding and the upstream call (unary, or streaming over
// HTTP and WebSocket with per-upstream limits), the admin listener (admin
// API, Prometheus metrics from a registry per Gateway, the effective config
// with secrets redacted, an embedded dashboard, pprof), the live OpenAPI
// document of the routes served, OpenTelemetry tracing, and the control
// loop that turns endpoint changes and reflected descriptors into new
// route tables.
//
// A Gateway serves one config. A Server is the process around it: it owns
// the listeners, reads the config from a configsource.Source (a watched file, a
// Consul KV key shared by a fleet, or bytes in memory), swaps in a new
// Gateway on reload once its upstreams have descriptors (refusing, and
// counting, a config that fails), and drains on stop. Signals belong to
// the command; the Server only offers Reload, EndDrain and a context.
//
// It is the only package that imports all the others; none imports it.
package gateway
