// Package setup is the one translator from refract's configuration (the
// YAML schema of gateway/config) to the runtime options of the engine
// (gateway.Options): it builds the upstreams' discovery sources and dial
// options, the Consul client, the compiled HTTP rules and header rules,
// and the policies (consumers, JWT verifier, limiter stores, Redis, the
// external authorizer, per-level rules and resilience) once per config,
// with the state that outlives route rebuilds and reloads kept in a State
// (buckets, breakers, key sets), and says which config changes a running
// engine can take (Updatable). It owns the translation and nothing else:
// it serves no request, and no runtime package imports it.
package setup
