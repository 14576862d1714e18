package policy

import (
	"fmt"
	"io"
	"net/http"
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

// AccessLog writes one zerolog line per request after it is answered:
// request id, HTTP method and path (never the query string, which may hold
// an API key, nor any header), route template, gRPC method, upstream and
// endpoint, HTTP status, gRPC code, bytes in and out, latency, consumer and
// JWT subject.
func AccessLog(o AccessLogOptions) (Policy, error) {
	if o.Sample < 0 || o.Sample > 1 {
		return nil, fmt.Errorf("policy: access log sample %v is not between 0 and 1", o.Sample)
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
			r, info := withInfo(r)
			rw := &statusWriter{ResponseWriter: w, info: info}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = &countingBody{ReadCloser: r.Body, n: &info.bytesIn}
			}
			next.ServeHTTP(rw, r)
			status := rw.status
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
				Str("endpoint", info.Endpoint).
				Int("status", status).
				Int32("grpc_code", code).
				Int64("bytes_in", info.bytesIn).
				Int64("bytes_out", rw.bytes).
				Dur("latency", time.Since(info.Start)).
				Str("client_ip", ipString(info)).
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

// statusWriter records the status and the bytes written. It passes Flush
// and Unwrap through so streaming responses keep working behind it.
type statusWriter struct {
	http.ResponseWriter
	info   *Info
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// SetGRPCCode records the answer's gRPC code (see RecordCode).
func (w *statusWriter) SetGRPCCode(c int32) { w.info.code = c }

// Flush lets streamed responses through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingBody struct {
	io.ReadCloser
	n *int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	*b.n += int64(n)
	return n, err
}
