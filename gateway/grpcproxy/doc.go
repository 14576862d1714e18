// Package grpcproxy serves the RPC protocols beside HTTP+JSON on the public
// listener: native gRPC, proxied message by message without transcoding
// (the request and response messages pass as opaque bytes; the client's
// compression is kept on both legs), and gRPC-Web
// and Connect, converted to gRPC on the way in and back on the way out
// (connectrpc.com/vanguard, plus the base64 gRPC-Web text framing it does
// not speak). It also serves gRPC server reflection from descriptors it is
// given.
//
// It owns the protocol work only: which route a method maps to, which
// policies run and how the upstream call is made (plan, breaker, metadata
// rules) are the engine's, handed over per call as a Call. It does not
// know HTTP+JSON routes, configuration or metrics.
package grpcproxy
