// Package transcode owns the translation between HTTP+JSON and protobuf for
// one method: compiling google.api.http rules into bindings (HttpRule →
// field paths), decoding path variables, query parameters and bodies into
// request messages (dynamically, or as wire bytes through the wirejson
// codec when it covers the types), encoding responses as JSON and gRPC
// statuses with the detail types of the binding's upstream, the rules that
// decide which HTTP headers become gRPC metadata and back, the gRPC codec
// of upstream calls, deadlines, and stream framing: how a server stream's
// messages are laid out in one response (NDJSON, Server-Sent Events, a
// JSON array, raw HttpBody bytes) and how a client stream's messages are
// read from one request body. It also recognises the call failures grpc-go
// puts into words itself (a lost connection, an unreadable or oversized
// response), so that they are told to callers as the upstream's fault in
// plain words rather than as the backend's status; checks request
// messages against their buf.validate rules (Validation); and reads what
// a client accepts (JSON, trailers) and a method's idempotency level. It
// builds and parses
// bytes only; writing, flushing and timing belong to the gateway, the
// error shape and code table to rpcstatus, and the OpenAPI description to
// package openapi.
//
// It works on descriptors it is given (from reflection snapshots) and knows
// nothing of Consul, configuration files or how upstreams are reached. It
// uses router's Template type, whose variables a binding compiles to fields.
package transcode
