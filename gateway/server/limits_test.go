package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/rs/zerolog"
)

// TestServerLimits checks what each public server is built with: the
// configured values, and the defaults when nothing is set.
func TestServerLimits(t *testing.T) {
	for _, tc := range []struct {
		limits                    string
		readHeader, read, write   time.Duration
		idle                      time.Duration
		maxHeaderBytes, h2Streams int
	}{
		{"", 10 * time.Second, 60 * time.Second, 60 * time.Second, 120 * time.Second, 2 * (32<<10 + 8<<10), 100},
		{"limits: {read_header_timeout: 2s, read_timeout: 40s, write_timeout: 45s, idle_timeout: 7s, max_header_bytes: 2048, max_url_bytes: 512, http2_max_concurrent_streams: 16}\n",
			2 * time.Second, 40 * time.Second, 45 * time.Second, 7 * time.Second, 2 * (2048 + 512), 16},
	} {
		cfg, err := config.Parse([]byte(tc.limits + "upstreams: [{name: library, static: [\"127.0.0.1:1\"]}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		s := server.HTTPServer(cfg, zerolog.Nop(), http.NotFoundHandler())
		if s.ReadHeaderTimeout != tc.readHeader || s.ReadTimeout != tc.read || s.WriteTimeout != tc.write || s.IdleTimeout != tc.idle {
			t.Errorf("%q: timeouts %s %s %s %s", tc.limits, s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
		}
		if s.MaxHeaderBytes != tc.maxHeaderBytes || s.HTTP2 == nil || s.HTTP2.MaxConcurrentStreams != tc.h2Streams {
			t.Errorf("%q: MaxHeaderBytes %d, HTTP2 %+v", tc.limits, s.MaxHeaderBytes, s.HTTP2)
		}
	}
}
