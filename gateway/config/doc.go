// Package config owns refract's YAML configuration schema as plain data
// (Config and the types it holds), the defaults of every key
// (ApplyDefaults) and its fast validation: Parse and Load check a file
// against the schema and against every rule the gateway will apply, and
// report every problem at once, each with its line and key path
// ("line 7: upstreams[0].timeout: ..."), in words rather than Go type
// names; Validate does the same for a Config built in code. The package
// does not construct runtime pieces and dials nothing: a config that
// passes is what the gateway builds, but connecting to upstreams, Consul,
// Redis or an authorizer is the gateway's business.
package config
