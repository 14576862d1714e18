package config

import (
	"regexp"
	"time"

	"github.com/refract-gateway/refract/transcode"
)

// StreamConfig limits and shapes an upstream's streaming calls (server,
// client and bidi streams over NDJSON, SSE, JSON arrays and WebSocket).
// Every breach ends the stream with a google.rpc.Status saying which limit.
type StreamConfig struct {
	// MaxMessageBytes caps each message, both ways: a request message over
	// it ends the stream with RESOURCE_EXHAUSTED, and it is the WebSocket
	// read limit. Default 4 MiB.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// IdleTimeout ends a stream after this long without a message in either
	// direction (keep-alives do not count), with DEADLINE_EXCEEDED; it also
	// bounds how long one write to a client that stopped reading may block.
	// Default 5m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxDuration is a stream's deadline, replacing the upstream's per-call
	// timeout; a shorter Grpc-Timeout from the client wins. Default 1h.
	MaxDuration Duration `yaml:"max_duration"`
	// MaxPerClient caps the streams one client address may hold open at once
	// on this upstream; one more is refused with 429 RESOURCE_EXHAUSTED.
	// Default 16.
	MaxPerClient int `yaml:"max_per_client"`
	// KeepAlive is the interval of SSE keep-alive comments and WebSocket
	// pings while a stream is open. A WebSocket peer that does not answer a
	// ping within the interval is disconnected. Default 15s.
	KeepAlive Duration `yaml:"keepalive"`
	// BufferMessages is how many upstream messages the gateway reads ahead
	// of the client. Beyond it the gateway stops reading and gRPC flow
	// control holds the backend back. Default 16.
	BufferMessages int `yaml:"buffer_messages"`
	// Framing sets the framing of server streams per method (full name, e.g.
	// echo.v1.EchoService.Expand): ndjson (the default) or json_array. It
	// applies when the client's Accept does not ask for text/event-stream or
	// application/x-ndjson.
	Framing map[string]string `yaml:"framing"`
	// WebSocketOrigins are host patterns (path.Match syntax, e.g.
	// "*.example.com") whose pages may open WebSockets; by default only pages
	// of the gateway's own host may, as browsers do not apply CORS to
	// WebSockets.
	WebSocketOrigins []string `yaml:"websocket_origins"`
}

// ApplyDefaults fills the unset stream limits with their defaults.
func (s *StreamConfig) ApplyDefaults() {
	if s.MaxMessageBytes == 0 {
		s.MaxMessageBytes = 4 << 20
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = Duration(5 * time.Minute)
	}
	if s.MaxDuration == 0 {
		s.MaxDuration = Duration(time.Hour)
	}
	if s.MaxPerClient == 0 {
		s.MaxPerClient = 16
	}
	if s.KeepAlive == 0 {
		s.KeepAlive = Duration(15 * time.Second)
	}
	if s.BufferMessages == 0 {
		s.BufferMessages = 16
	}
}

// MethodFullName is the form of a method's full name, package.Service.Method.
var MethodFullName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// validate reports each problem under key (e.g. "upstreams[0].streams").
func (s *StreamConfig) validate(key string, bad func(key, format string, args ...any)) {
	if s.MaxMessageBytes < 0 {
		bad(key+".max_message_bytes", "must be positive")
	}
	if s.MaxPerClient < 0 {
		bad(key+".max_per_client", "must be positive")
	}
	if s.BufferMessages < 0 || s.BufferMessages > 4096 {
		bad(key+".buffer_messages", "must be between 1 and 4096, got %d", s.BufferMessages)
	}
	for name, f := range s.Framing {
		if !MethodFullName.MatchString(name) {
			bad(key+".framing", "%q is not a method's full name (package.Service.Method)", name)
		}
		if fr, err := transcode.ParseFraming(f); err != nil || fr == transcode.FramingSSE {
			bad(key+".framing."+name, "%q is not ndjson or json_array (SSE is chosen by the client's Accept header)", f)
		}
	}
}

// FramingFor is the configured framing of a method's server stream,
// ndjson when none is.
func (s *StreamConfig) FramingFor(method string) transcode.Framing {
	if f, err := transcode.ParseFraming(s.Framing[method]); err == nil {
		return f
	}
	return transcode.FramingNDJSON
}
