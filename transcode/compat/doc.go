// Package compat owns the wire dialects an upstream's routes may answer in:
// refract's own (the default) and grpc-gateway v2's, for teams that
// replace a generated gateway and must keep their clients byte-for-byte
// unchanged. It decides only choices where safety is not at stake — the
// status of a method a path does not serve, whether a unary call's trailing
// metadata travels as HTTP trailers, the shape of a server stream that
// fails before its first message, the delimiting of google.api.HttpBody
// stream chunks — and leaves every security choice (escapes, body checks,
// header filtering, aborting a failed download) to the packages that make
// them, whatever the dialect. Stateless; safe for concurrent use.
package compat
