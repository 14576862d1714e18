package gateway

import (
	"strings"
)

// transportFailure recognises the UNAVAILABLE messages grpc-go makes itself
// when the connection to a backend, not the backend, failed a call, and
// returns what the caller is told instead, with ok. grpc-go's words
// ("connection error: desc = \"transport: Error while dialing: dial tcp
// 10.0.3.7:50051: connect: connection refused\"") tell a caller nothing it
// can act on and give away the internal network's addresses; the caller
// learns what happened and its last cause ("connection refused", "EOF"),
// and the access log keeps grpc-go's message (policy.Info.Cause). A
// backend's own UNAVAILABLE message is not recognised and passes as it is.
func transportFailure(msg string) (caller string, ok bool) {
	switch {
	case strings.HasPrefix(msg, "connection error: "), strings.HasPrefix(msg, "last connection error: "),
		strings.HasPrefix(msg, "last resolver error: "), strings.HasPrefix(msg, "name resolver error: "):
		return "no instance could be connected to" + lastCause(msg), true
	case strings.HasPrefix(msg, "error reading from server"), strings.HasPrefix(msg, "transport is closing"),
		strings.HasPrefix(msg, "connection closed"), strings.HasPrefix(msg, "failed to write"):
		return "the connection to the instance was lost during the call" + lastCause(msg), true
	}
	return msg, false
}

// lastCause is the innermost cause of a chain of "a: b: c" errors, without
// addresses, as " (c)"; "" when it names nothing a caller could use.
func lastCause(msg string) string {
	msg = strings.TrimRight(msg, `"`)
	i := strings.LastIndex(msg, ": ")
	if i < 0 {
		return ""
	}
	c := msg[i+2:]
	switch {
	case c == "use of closed network connection" && strings.Contains(msg, "server preface"):
		// grpc-go gave up waiting for the HTTP/2 handshake and closed
		// the connection: something listens there, but not a gRPC server.
		return " (the instance did not answer the HTTP/2 handshake)"
	case c == "", strings.ContainsAny(c, `:"=`):
		return ""
	}
	return " (" + c + ")"
}
