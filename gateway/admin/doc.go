// Package admin is refract's admin listener: the JSON admin API (health,
// readiness, routes, upstreams, breakers, descriptors, the effective
// config with secrets redacted), the embedded operator console and its
// API explorer (swagger-ui, compiled in with its license), /metrics and
// /admin/stats as telemetry serves them, the server's reload endpoint,
// and pprof when enabled; and the API documentation page a public
// listener may offer (Docs). Every request passes the listener's guard
// first (allowed Hosts, bearer tokens, client certificates, same-origin
// state-changing requests: see Access). Handler builds it from the
// engine's exported read model and what the process around it passes in
// Options; it never reaches into engine internals, owns no listener, and
// changes nothing but what the read model offers (a descriptor refresh);
// the explorer's calls go through the engine's public handler.
package admin
