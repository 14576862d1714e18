// Package leanunary carries unary gRPC calls over HTTP/2 without grpc-go's
// stream machinery: the caller's goroutine writes its request's frames
// (batched with other calls' while a write is in flight) and one reader
// goroutine per connection completes the calls. It exists to measure, and
// where it pays to use, a cheaper path for the gateway's unary calls;
// grpc-go stays the transport of streams and of everything this does not
// carry (compression, per-call credentials).
package leanunary
