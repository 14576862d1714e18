package transcode

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The failures of an upstream call that grpc-go, not the backend, puts into
// words, told to callers in theirs.

// TransportFailure recognises the UNAVAILABLE messages grpc-go makes itself
// when the connection to a backend, not the backend, failed a call, and
// returns what the caller is told instead, with ok. grpc-go's words
// ("connection error: desc = \"transport: Error while dialing: dial tcp
// 10.0.3.7:50051: connect: connection refused\"") tell a caller nothing it
// can act on and give away the internal network's addresses; the caller
// learns what happened and its last cause ("connection refused", "EOF"),
// and the access log keeps grpc-go's message (policy.Info.Cause). A
// backend's own UNAVAILABLE message is not recognised and passes as it is.
func TransportFailure(msg string) (caller string, ok bool) {
	switch {
	case strings.HasPrefix(msg, "connection error: "), strings.HasPrefix(msg, "last connection error: "),
		strings.HasPrefix(msg, "last resolver error: "), strings.HasPrefix(msg, "name resolver error: "):
		return "no instance could be connected to" + lastCause(msg), true
	case strings.HasPrefix(msg, "error reading from server"), strings.HasPrefix(msg, "transport is closing"),
		strings.HasPrefix(msg, "connection closed"), strings.HasPrefix(msg, "failed to write"):
		return "the connection to the instance was lost during the call" + lastCause(msg), true
	case strings.HasPrefix(msg, "stream terminated by RST_STREAM"), strings.HasPrefix(msg, "received prior goaway"),
		strings.HasPrefix(msg, "unexpected HTTP status code received from server"):
		return "the instance refused or reset the call" + lastCause(msg), true
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

// LocalDeadline recognises the DEADLINE_EXCEEDED messages grpc-go makes
// itself when the caller's context (a timeout of the gateway's, a per-try
// timeout) ended the call, or the backend reset the stream as that
// deadline passed; a backend's own DEADLINE_EXCEEDED carries its own words
// and passes as it is.
func LocalDeadline(msg string) bool {
	return msg == "context deadline exceeded" || strings.HasPrefix(msg, "stream terminated by RST_STREAM")
}

// UnreadableResponse recognises the INTERNAL status grpc-go gives when the
// backend's response could not be decompressed or decoded as the method's
// response type, and returns the cause with ok: the backend's fault, which
// the caller gets as 502 Bad Gateway rather than 500.
func UnreadableResponse(st *status.Status) (cause string, ok bool) {
	if st.Code() != codes.Internal {
		return "", false
	}
	for _, prefix := range []string{"grpc: failed to unmarshal the received message: ", "grpc: failed to decompress the received message: "} {
		if c, ok := strings.CutPrefix(st.Message(), prefix); ok {
			return c, true
		}
	}
	return "", false
}

// RecvTooLarge recognises grpc-go's own refusal to receive a response
// message over limit, the MaxCallRecvMsgSize the gateway set
// (limits.max_response_bytes, streams.max_message_bytes): RESOURCE_EXHAUSTED
// saying "larger than max" and ending with that limit, whether the message
// was too large as sent or once decompressed. A RESOURCE_EXHAUSTED from the
// backend (a quota, or its own request size limit) is not recognised.
func RecvTooLarge(st *status.Status, limit int64) bool {
	if limit <= 0 || st.Code() != codes.ResourceExhausted {
		return false
	}
	msg := st.Message()
	n := strconv.FormatInt(min(limit, math.MaxInt32), 10)
	return strings.HasPrefix(msg, "grpc: ") && strings.Contains(msg, "larger than max") &&
		(strings.HasSuffix(msg, " vs. "+n+")") || strings.HasSuffix(msg, " max "+n))
}

// UnreadableMessage is what a caller is told when the upstream's response
// could not be read as b's response type (the gateway's decoder or
// encoder, or grpc-go's, said why in cause).
func UnreadableMessage(upstream string, b *Binding, cause string) string {
	return fmt.Sprintf("upstream %q sent a response that is not a valid %s: %s", upstream, b.Method.Output().FullName(), cause)
}

// EncodingCause is the innermost line of a response encoding error,
// without its package prefix.
func EncodingCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	return strings.TrimPrefix(msg, "transcode: ")
}
