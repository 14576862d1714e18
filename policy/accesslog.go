package policy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// AccessLogOptions configure the access log.
type AccessLogOptions struct {
	// Logger receives one JSON line per logged request.
	Logger zerolog.Logger
	// Sample is the fraction (0..1) of successful (status < 400) requests
	// logged; failures are always logged. Sampling is by count, not chance:
	// 0.25 logs exactly every fourth success. Default (0) means 1.
	Sample float64
}

// Validate reports what AccessLog would refuse in o: a Sample outside 0..1.
func (o AccessLogOptions) Validate() error {
	if o.Sample < 0 || o.Sample > 1 {
		return fmt.Errorf("policy: access log sample %v is not between 0 and 1", o.Sample)
	}
	return nil
}

// AccessLog writes one zerolog line per request after it is answered:
// request id, HTTP method and path (never the query string, which may hold
// an API key, nor any header), route template, gRPC method, upstream and
// endpoint, HTTP status, gRPC code, bytes in and out, latency, consumer and
// JWT subject.
func AccessLog(o AccessLogOptions) (Policy, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Sample == 0 {
		o.Sample = 1
	}
	var successes atomic.Uint64
	sampled := func() bool {
		if o.Sample >= 1 {
			return true
		}
		n := successes.Add(1)
		// log when n*Sample crosses an integer: exact counts, no randomness
		return uint64(float64(n)*o.Sample) != uint64(float64(n-1)*o.Sample)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w, r, info := track(w, r)
			next.ServeHTTP(w, r)
			status := info.Status()
			if status == 0 {
				status = http.StatusOK
			}
			if status < 400 && !sampled() {
				return
			}
			code := info.code
			if code < 0 && status < 400 {
				code = 0
			}
			ev := o.Logger.Info()
			if status >= 500 {
				ev = o.Logger.Error()
			} else if status >= 400 {
				ev = o.Logger.Warn()
			}
			ev.Str("request_id", info.RequestID).
				Str("http_method", r.Method).
				Str("path", r.URL.EscapedPath()).
				Str("route", info.Route).
				Str("grpc_method", info.Method).
				Str("upstream", info.Upstream).
				Func(func(e *zerolog.Event) { appendAddr(e, "endpoint", info.Endpoint) }).
				Int("status", status).
				Int32("grpc_code", code).
				Int64("bytes_in", info.BytesIn()).
				Int64("bytes_out", info.BytesOut()).
				Float64("latency_ms", float64(time.Since(info.Start))/float64(time.Millisecond)).
				Func(func(e *zerolog.Event) { appendIP(e, "client_ip", info.ClientIP) }).
				Str("consumer", info.ConsumerName()).
				Str("subject", info.Subject).
				Func(func(e *zerolog.Event) {
					if info.Cause != "" {
						e.Str("cause", info.Cause)
					}
				}).
				Msg("request")
		})
	}, nil
}

func ipString(i *Info) string {
	if !i.ClientIP.IsValid() {
		return ""
	}
	return i.ClientIP.String()
}

// appendAddr writes an address field as net.Addr.String formats it,
// straight into the line for a TCP address (no string per line); "" for
// none.
func appendAddr(e *zerolog.Event, key string, a net.Addr) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp == nil {
		if a == nil {
			e.Str(key, "")
		} else {
			e.Str(key, a.String())
		}
		return
	}
	ap := tcp.AddrPort()
	if !ap.Addr().IsValid() {
		e.Str(key, a.String())
		return
	}
	var buf [64]byte
	e.Bytes(key, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(buf[:0]))
}

// appendIP writes ip as netip.Addr.String formats it, without a string;
// "" for none.
func appendIP(e *zerolog.Event, key string, ip netip.Addr) {
	if !ip.IsValid() {
		e.Str(key, "")
		return
	}
	var buf [64]byte
	e.Bytes(key, ip.AppendTo(buf[:0]))
}
