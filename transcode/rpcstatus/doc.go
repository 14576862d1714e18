// Package rpcstatus owns the one error shape refract answers with and the
// rules around it: google.rpc.Status rendered as JSON
// ({"code":N,"message":"...","details":[...]}), the standard table from
// gRPC codes to HTTP statuses and back, the one writer that puts such a
// body on an http.ResponseWriter (and tells the access log the code), and
// the one rule for which strings may name gRPC metadata. It imports
// nothing of refract's, so every other package (policy, transcode, the
// gateway) can use it; it does not decide which status a failure gets,
// how headers become metadata, or how a message body is transcoded.
package rpcstatus
