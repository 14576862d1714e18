// Package telemetry is refract's Prometheus metrics and OpenTelemetry
// tracing, fed through the engine's exported hooks: Metrics implements
// gateway.Observer (request, call, stream and rejection series bound per
// route when routes are compiled) and reads the engine's read model at
// scrape time (descriptor cache, discovery, routes, open streams,
// fast-path counters), and computes the dashboard's Stats view from both;
// Tracing gives the gateway a middleware for server spans and dial options
// for client spans and W3C trace context. Registries, tracer providers and
// clocks are per gateway and injected, never process globals. It does not
// read the YAML config (its options are plain values) and the engine runs
// without it.
package telemetry
