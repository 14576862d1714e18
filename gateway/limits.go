package gateway

import (
	"net/http"
	"time"
)

// applyLimits sets the connection-level limits on a server of the
// gateway's: timeouts, header size and HTTP/2 streams. The per-request
// limits (URL, headers, concurrency) are the guard's.
func (g *Gateway) applyLimits(s *http.Server) {
	l := &g.limits
	s.ReadHeaderTimeout = l.ReadHeaderTimeout
	s.ReadTimeout = l.ReadTimeout
	s.WriteTimeout = l.WriteTimeout
	s.IdleTimeout = l.IdleTimeout
	// net/http answers past this with its own plain-text 431 before any
	// handler runs; below it the guard answers with a google.rpc.Status.
	s.MaxHeaderBytes = 2 * (l.HeaderBytes + l.URLBytes)
	s.HTTP2 = &http.HTTP2Config{
		MaxConcurrentStreams: l.HTTP2Streams,
		// The HPACK table a client may make the server keep per
		// connection: the protocol's 4 KiB, set here so a change of Go's
		// default cannot raise it. Header lists themselves are bounded by
		// MaxHeaderBytes (which also cuts CONTINUATION floods).
		MaxDecoderHeaderTableSize: 4 << 10,
	}
}

// clearDeadlines lifts the server's read and write timeouts for a stream,
// which may rightly last far longer; its own idle timeout and maximum
// duration bound it instead. Errors mean the connection cannot set
// deadlines (a test recorder), which leaves nothing to clear.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}
