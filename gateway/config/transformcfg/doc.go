// Package transformcfg is the YAML schema of a route's transform policy
// (the transform key of any policies level), as plain data, with its
// config-only checks: source syntax, metadata keys, header names, gRPC
// code names, the error body template. Whether the fields it names exist
// is known only at route build, against the descriptors: the gateway
// checks that (gateway/transform). docs/transform.md describes the keys.
package transformcfg
