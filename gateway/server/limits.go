package server

import (
	"log"
	"net/http"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// HTTPServer is the http.Server every listener of cfg gets, serving h:
// HTTP/1.1, HTTP/2 over TLS and cleartext (h2c, for gRPC-style clients and
// load balancers), net/http's own errors logged to log, cfg's
// connection-level limits, and an HTTP/1 connection closed after any
// request with a chunked body (see closeAfterChunked).
func HTTPServer(cfg *config.Config, log zerolog.Logger, h http.Handler) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	s := &http.Server{
		Handler:   closeAfterChunked(h),
		Protocols: &protocols,
		ErrorLog:  newStdLogger(log),
	}
	applyLimits(cfg, s)
	return s
}

// applyLimits sets the connection-level limits on a server: timeouts,
// header size and HTTP/2 streams. The per-request limits (URL, headers in
// JSON, concurrency) are the gateway's own.
func applyLimits(cfg *config.Config, s *http.Server) {
	l := &cfg.Limits
	s.ReadHeaderTimeout = config.OrDuration(l.ReadHeaderTimeout, config.DefaultReadHeaderTimeout)
	s.ReadTimeout = cfg.ExchangeTimeout(l.ReadTimeout)
	s.WriteTimeout = cfg.ExchangeTimeout(l.WriteTimeout)
	s.IdleTimeout = config.OrDuration(l.IdleTimeout, config.DefaultIdleTimeout)
	// net/http answers past this with its own plain-text 431 before any
	// handler runs; below it the gateway answers with a google.rpc.Status.
	s.MaxHeaderBytes = 2 * (l.HeaderBytes() + l.URLBytes())
	s.HTTP2 = &http.HTTP2Config{
		MaxConcurrentStreams: l.HTTP2Streams(),
		// The HPACK table a client may make the server keep per
		// connection: the protocol's 4 KiB, set here so a change of Go's
		// default cannot raise it. Header lists themselves are bounded by
		// MaxHeaderBytes (which also cuts CONTINUATION floods).
		MaxDecoderHeaderTableSize: 4 << 10,
	}
}

// newStdLogger routes net/http's internal errors (TLS handshakes, bad
// requests it rejects itself) into the structured log.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(l.With().Str("component", "http").Logger(), "", 0)
}

// closeAfterChunked closes an HTTP/1 connection once a request with a
// chunked body is answered. RFC 9112 §6.3: a request with both
// Transfer-Encoding and Content-Length may be an attempt at request
// smuggling (a proxy in front that framed it by Content-Length would take
// the rest of the chunked body for a next request), and the server must
// close the connection after responding. net/http drops the Content-Length
// of such a request before any handler runs, so no handler can tell the two
// apart: every chunked HTTP/1 request is treated so. Requests that state
// their length keep the connection; HTTP/2 frames bodies itself.
func closeAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
