package transcode

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestTransportFailureMessages(t *testing.T) {
	for _, tc := range []struct{ grpc, caller string }{
		// grpc-go's own words (v1.85), as calls to dead or unreachable
		// instances get them.
		{`connection error: desc = "transport: Error while dialing: dial tcp 10.0.3.7:50051: connect: connection refused"`,
			"no instance could be connected to (connection refused)"},
		{`connection error: desc = "transport: Error while dialing: dial tcp 10.0.3.7:50051: i/o timeout"`,
			"no instance could be connected to (i/o timeout)"},
		{`last connection error: connection error: desc = "transport: authentication handshake failed: tls: bad certificate"`,
			"no instance could be connected to (bad certificate)"},
		{`connection error: desc = "error reading server preface: raw-read tcp 10.0.0.2:59236->10.0.3.7:50051: use of closed network connection"`,
			"no instance could be connected to (the instance did not answer the HTTP/2 handshake)"},
		{`connection error: desc = "error reading server preface: connection reset by peer"`,
			"no instance could be connected to (connection reset by peer)"},
		{`name resolver error: produced zero addresses`, "no instance could be connected to (produced zero addresses)"},
		{`error reading from server: EOF`, "the connection to the instance was lost during the call (EOF)"},
		{`error reading from server: read tcp 10.0.0.2:41234->10.0.3.7:50051: read: connection reset by peer`,
			"the connection to the instance was lost during the call (connection reset by peer)"},
		{`transport is closing`, "the connection to the instance was lost during the call"},
		{`stream terminated by RST_STREAM with error code: REFUSED_STREAM`, "the instance refused or reset the call (REFUSED_STREAM)"},
		{`unexpected HTTP status code received from server: 502 (Bad Gateway); transport: received unexpected content-type "text/html"`,
			"the instance refused or reset the call"},
		{`connection closed before server preface received`, "the connection to the instance was lost during the call"},
	} {
		got, ok := TransportFailure(tc.grpc)
		if !ok || got != tc.caller {
			t.Errorf("%s\n got %q, %v\nwant %q", tc.grpc, got, ok, tc.caller)
		}
	}
	// A backend's own UNAVAILABLE passes as it is.
	for _, msg := range []string{"injected failure 1 of ListShelves", "database is down: connection refused", ""} {
		if got, ok := TransportFailure(msg); ok || got != msg {
			t.Errorf("%q became %q, %v", msg, got, ok)
		}
	}
}

func TestUnreadableResponse(t *testing.T) {
	for _, tc := range []struct {
		st    *status.Status
		cause string
	}{
		{status.New(codes.Internal, "grpc: failed to unmarshal the received message: proto: cannot parse invalid wire-format data"), "proto: cannot parse invalid wire-format data"},
		{status.New(codes.Internal, "grpc: failed to decompress the received message: gzip: invalid header"), "gzip: invalid header"},
		// The backend's own INTERNAL, and other codes, are not the response
		// failing to decode.
		{status.New(codes.Internal, "database constraint violated"), ""},
		{status.New(codes.Unknown, "grpc: failed to unmarshal the received message: x"), ""},
	} {
		cause, ok := UnreadableResponse(tc.st)
		if cause != tc.cause || ok != (tc.cause != "") {
			t.Errorf("%v: %q, %v; want %q", tc.st, cause, ok, tc.cause)
		}
	}
}

// grpc-go's refusals of a received message over the limit it was given
// (v1.85, its receive path), as sent and once decompressed, are recognised for
// that limit only; the backend's own RESOURCE_EXHAUSTED and the refusal to
// send are not.
func TestRecvTooLarge(t *testing.T) {
	for _, tc := range []struct {
		code  codes.Code
		msg   string
		limit int64
		want  bool
	}{
		{codes.ResourceExhausted, "grpc: received message larger than max (2003 vs. 1024)", 1024, true},
		{codes.ResourceExhausted, "grpc: message after decompression larger than max (2003 vs. 1024)", 1024, true},
		{codes.ResourceExhausted, "grpc: received message after decompression larger than max 1024", 1024, true},
		{codes.ResourceExhausted, "grpc: received message larger than max (2003 vs. 2147483647)", 1 << 40, true},
		{codes.ResourceExhausted, "grpc: received message larger than max (2003 vs. 1024)", 2048, false},
		{codes.ResourceExhausted, "grpc: received message larger than max (2003 vs. 1024)", 0, false},
		{codes.ResourceExhausted, "trying to send message larger than max (2003 vs. 1024)", 1024, false},
		{codes.ResourceExhausted, "quota exceeded: 1024", 1024, false},
		{codes.Internal, "grpc: received message larger than max (2003 vs. 1024)", 1024, false},
	} {
		if got := RecvTooLarge(status.New(tc.code, tc.msg), tc.limit); got != tc.want {
			t.Errorf("%v %q limit %d: %v, want %v", tc.code, tc.msg, tc.limit, got, tc.want)
		}
	}
}

func TestLocalDeadline(t *testing.T) {
	for msg, want := range map[string]bool{
		"context deadline exceeded":                               true,
		"stream terminated by RST_STREAM with error code: CANCEL": true,
		"x": false, "": false, "the report took too long: context deadline exceeded": false,
	} {
		if got := LocalDeadline(msg); got != want {
			t.Errorf("LocalDeadline(%q) = %v", msg, got)
		}
	}
}
