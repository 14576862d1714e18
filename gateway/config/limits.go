package config

import (
	"fmt"
	"time"
)

// LimitKeys are the top-level keys of the edge limits (inlined in Config).
type LimitKeys struct {
	// Limits bound what one request or client may cost the gateway. Every
	// key has a safe default; docs/security.md lists them.
	Limits LimitsConfig `yaml:"limits"`
}

// LimitsConfig bounds requests, connections and upstream responses. A
// zero value means the default named on each field; the request body limit
// stays the top-level max_body_bytes.
type LimitsConfig struct {
	// MaxURLBytes bounds the request target (path and query); longer gets
	// 414. Default 8 KiB.
	MaxURLBytes int `yaml:"max_url_bytes"`
	// MaxHeaderBytes bounds the request headers (names, values and framing,
	// as sent); more gets 431. Default 32 KiB. net/http itself closes a
	// request whose headers exceed twice this with a plain-text 431.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxJSONDepth bounds how deeply a request body nests; deeper gets 400.
	// Default 64.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// MaxResponseBytes bounds one message from an upstream (grpc-go's
	// MaxCallRecvMsgSize); a larger one gets 502. Default 4 MiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// MaxRouteSeries bounds the routes with metric series of their own;
	// later routes count under route="other". Default 2000.
	MaxRouteSeries int `yaml:"max_route_series"`
	// MaxConcurrentPerClient bounds the requests (streams included) one
	// client address has in flight; more get 429. Default 256.
	MaxConcurrentPerClient int `yaml:"max_concurrent_per_client"`
	// HeadersWithUnderscores is what happens to a request header whose name
	// holds '_' (some servers read X_User as X-User, so it can smuggle a
	// header past checks of the other spelling): drop (the default), reject
	// (400) or allow.
	HeadersWithUnderscores string `yaml:"headers_with_underscores"`
	// ReadHeaderTimeout bounds reading a request's headers (slowloris).
	// Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// BodyReadTimeout bounds reading a request body (unary calls, and
	// streams whose request does not stream), together with MinBodyRate:
	// the body must arrive within this much from when the gateway starts
	// reading it (after the policies) plus one second for every
	// MinBodyRate bytes received, or the caller gets 408 and an HTTP/1
	// connection is closed. It cuts off a body trickled in or
	// announced longer than it is after about this long. Default 10s.
	BodyReadTimeout Duration `yaml:"body_read_timeout"`
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second, after BodyReadTimeout; it gives a large body on a slow link
	// the time its size needs. Default 16384 (16 KiB/s).
	MinBodyRate int `yaml:"min_body_rate"`
	// ReadTimeout bounds a unary exchange from its first byte (while the
	// body is read, BodyReadTimeout and MinBodyRate apply instead). It
	// must outlast the longest upstream timeout: when it expires while the
	// call is in flight, net/http cancels the request's context. Default: the longest upstream timeout plus 10s, and at
	// least 60s. Streams clear it: their own idle and duration limits
	// apply (streams: in each upstream).
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a unary exchange from the end of the headers to
	// the end of the response; it must outlast the longest upstream
	// timeout too. Default as ReadTimeout. Streams clear it.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// HTTP2MaxConcurrentStreams bounds the streams one HTTP/2 connection may
	// have open. Default 100.
	HTTP2MaxConcurrentStreams int `yaml:"http2_max_concurrent_streams"`
	// MinClientTimeout is the shortest Grpc-Timeout a client may send;
	// shorter gets 400. Default 10ms: less cannot cover a network round
	// trip and the transcoding on both sides, so it only makes the backend
	// start work that is bound to be cut off.
	MinClientTimeout Duration `yaml:"min_client_timeout"`
	// MaxClientTimeout is the longest Grpc-Timeout a client may send;
	// longer gets 400. Default: no maximum but what a duration holds
	// (about 292 years). A client's value only ever shortens a route's
	// timeout, whatever this says.
	MaxClientTimeout Duration `yaml:"max_client_timeout"`
}

// The defaults of LimitsConfig, the values of HeadersWithUnderscores, and
// how much longer than the longest upstream timeout the derived read and
// write timeouts are.
const (
	DefaultMaxURLBytes          = 8 << 10
	DefaultMaxHeaderBytes       = 32 << 10
	DefaultMaxJSONDepth         = 64
	DefaultMaxResponseBytes     = 4 << 20
	DefaultMaxConcurrentPerIP   = 256
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultBodyReadTimeout      = 10 * time.Second
	DefaultMinBodyRate          = 16 << 10
	DefaultMinExchangeTimeout   = 60 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	DefaultHTTP2MaxStreams      = 100
	DefaultMinClientTimeout     = 10 * time.Millisecond
	UnderscoreDrop              = "drop"
	UnderscoreReject            = "reject"
	UnderscoreAllow             = "allow"
	WriteTimeoutOverUpstreamMax = 10 * time.Second
)

// OrInt is v, or def when v is not positive (unset).
func OrInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// OrDuration is v, or def when v is not positive (unset).
func OrDuration(v Duration, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return time.Duration(v)
}

// URLBytes, HeaderBytes, JSONDepth, ResponseBytes, PerClient,
// HTTP2Streams, Underscores, BodyTimeout and BodyRate are the limits with
// their defaults.
func (l *LimitsConfig) URLBytes() int      { return OrInt(l.MaxURLBytes, DefaultMaxURLBytes) }
func (l *LimitsConfig) HeaderBytes() int   { return OrInt(l.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (l *LimitsConfig) JSONDepth() int     { return OrInt(l.MaxJSONDepth, DefaultMaxJSONDepth) }
func (l *LimitsConfig) ResponseBytes() int { return OrInt(l.MaxResponseBytes, DefaultMaxResponseBytes) }
func (l *LimitsConfig) PerClient() int {
	return OrInt(l.MaxConcurrentPerClient, DefaultMaxConcurrentPerIP)
}
func (l *LimitsConfig) HTTP2Streams() int {
	return OrInt(l.HTTP2MaxConcurrentStreams, DefaultHTTP2MaxStreams)
}
func (l *LimitsConfig) BodyTimeout() time.Duration {
	return OrDuration(l.BodyReadTimeout, DefaultBodyReadTimeout)
}
func (l *LimitsConfig) BodyRate() int { return OrInt(l.MinBodyRate, DefaultMinBodyRate) }
func (l *LimitsConfig) Underscores() string {
	return OrString(l.HeadersWithUnderscores, UnderscoreDrop)
}

// OrString is v, or def when v is empty.
func OrString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ExchangeTimeout is v (read_timeout or write_timeout) when set, else one
// that outlasts the longest upstream deadline, so a slow but timely answer
// is never cut.
func (c *Config) ExchangeTimeout(v Duration) time.Duration {
	if v > 0 {
		return time.Duration(v)
	}
	return max(DefaultMinExchangeTimeout, c.LongestUpstreamTimeout()+WriteTimeoutOverUpstreamMax)
}

// LongestUpstreamTimeout is the longest timeout of the upstreams and of
// the auto-exposure template.
func (c *Config) LongestUpstreamTimeout() time.Duration {
	var longest time.Duration
	for _, u := range c.Upstreams {
		longest = max(longest, time.Duration(u.Timeout))
	}
	if c.Consul != nil && c.Consul.AutoExpose != nil {
		longest = max(longest, time.Duration(c.Consul.AutoExpose.Upstream.Timeout))
	}
	return longest
}

// validateLimits reports every bad limits key.
func (c *Config) validateLimits() []error {
	var errs []error
	l := &c.Limits
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: limits.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for key, v := range map[string]int{
		"max_url_bytes": l.MaxURLBytes, "max_header_bytes": l.MaxHeaderBytes, "max_json_depth": l.MaxJSONDepth,
		"max_response_bytes": l.MaxResponseBytes, "max_concurrent_per_client": l.MaxConcurrentPerClient,
		"http2_max_concurrent_streams": l.HTTP2MaxConcurrentStreams, "min_body_rate": l.MinBodyRate,
		"max_route_series": l.MaxRouteSeries,
	} {
		if v < 0 {
			bad(key, "must be positive (or left out for the default), not %d", v)
		}
	}
	if l.MaxURLBytes > 0 && l.MaxURLBytes < 256 {
		bad("max_url_bytes", "%d is too small for real URLs; at least 256", l.MaxURLBytes)
	}
	if l.MaxHeaderBytes > 0 && l.MaxHeaderBytes < 1024 {
		bad("max_header_bytes", "%d is too small for real requests; at least 1024", l.MaxHeaderBytes)
	}
	switch l.HeadersWithUnderscores {
	case "", UnderscoreDrop, UnderscoreReject, UnderscoreAllow:
	default:
		bad("headers_with_underscores", "%q is not drop, reject or allow", l.HeadersWithUnderscores)
	}
	if lo, hi := OrDuration(l.MinClientTimeout, DefaultMinClientTimeout), l.MaxClientTimeout; hi > 0 && time.Duration(hi) < lo {
		bad("max_client_timeout", "%s is shorter than min_client_timeout (%s)", time.Duration(hi), lo)
	}
	for key, v := range map[string]Duration{"read_timeout": l.ReadTimeout, "write_timeout": l.WriteTimeout} {
		if d := time.Duration(v); d > 0 {
			if longest := c.LongestUpstreamTimeout(); d <= longest {
				bad(key, "%s must exceed the longest upstream timeout (%s), or answers in time would be cut off", d, longest)
			}
		}
	}
	return errs
}
