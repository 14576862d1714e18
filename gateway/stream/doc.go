// Package stream serves the streaming calls of the gateway's routes:
// client, server and bidi streams over plain HTTP (NDJSON, JSON array,
// Server-Sent Events or raw HttpBody framing) and over WebSocket, with the
// per-message, idle, duration and per-client limits of the route's
// upstream, read-ahead bounded by flow control, and the end of the call as
// a google.rpc.Status (in the body, in trailers or as a close code). The
// engine matches the route, applies its policies and hands over a Call;
// this package does not route, authenticate or know the config.
package stream
