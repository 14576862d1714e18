package stream

import (
	"time"

	"github.com/refract-gateway/refract/transcode"
)

// Limits bound an upstream's streaming calls. Every breach ends the
// stream with a google.rpc.Status saying which limit.
type Limits struct {
	// MaxMessageBytes caps each message both ways and is the WebSocket
	// read limit; 0: no cap.
	MaxMessageBytes int64
	// IdleTimeout ends a stream after this long without a message; 0:
	// never.
	IdleTimeout time.Duration
	// MaxDuration is a stream's deadline, in place of the upstream's call
	// timeout; 0: none but the client's Grpc-Timeout.
	MaxDuration time.Duration
	// MaxPerClient caps the streams one client address holds open on the
	// upstream; 0: no cap.
	MaxPerClient int
	// KeepAlive is the interval of SSE keep-alive comments and WebSocket
	// pings; 0: none.
	KeepAlive time.Duration
	// BufferMessages is how many upstream messages are read ahead of the
	// client; 0: none.
	BufferMessages int
	// Framing is the framing of server streams by method full name when
	// the client's Accept does not choose; default NDJSON.
	Framing map[string]transcode.Framing
	// WebSocketOrigins are host patterns (path.Match syntax) whose pages
	// may open WebSockets; default only the gateway's own host.
	WebSocketOrigins []string
}

// FramingFor is the framing of a method's server stream.
func (s *Limits) FramingFor(method string) transcode.Framing {
	if f, ok := s.Framing[method]; ok {
		return f
	}
	return transcode.FramingNDJSON
}
