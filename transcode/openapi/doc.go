// Package openapi describes compiled bindings as an OpenAPI 3.1 document:
// paths in OpenAPI notation with named parameters, query parameters for
// the fields neither the path nor the body binds, request and response
// schemas in the proto3 JSON mapping (one component per message and enum
// reached, descriptions from proto comments), stream framings, and the
// google.rpc.Status error response. Document reads transcode.Binding
// values and builds bytes only; Server serves such documents at one path
// (GET and HEAD, an ETag, one build per table it is handed, kept until the
// table changes). It is never on the path of a proxied request, and it
// does not know which routes a listener serves: the gateway hands Server
// each request's table and its routes.
package openapi
