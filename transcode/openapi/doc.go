// Package openapi describes compiled bindings as an OpenAPI 3.1 document:
// paths in OpenAPI notation with named parameters, query parameters for
// the fields neither the path nor the body binds, request and response
// schemas in the proto3 JSON mapping (one component per message and enum
// reached, descriptions from proto comments), stream framings, and the
// google.rpc.Status error response. It reads transcode.Binding values and
// builds bytes only: it is never on the request path, and serving,
// caching and ETags of the document belong to the gateway, which knows
// which routes each listener serves.
package openapi
