package policy

import (
	"io"
	"net/http"
)

// recorder is the response writer a chain's requests go through, installed
// once per request (by State, or by AccessLog when it runs alone): it
// records the status, the bytes written and the gRPC code into the
// request's Info, for the access log and the gateway's metrics. It lives
// inside Info, so recording costs no allocation of its own.
type recorder struct {
	http.ResponseWriter
	info   *Info
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	// 1xx are interim, but for 101: a WebSocket upgrade's only status.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// SetGRPCCode records the answer's gRPC code (see RecordCode).
func (w *recorder) SetGRPCCode(c int32) { w.info.code = c }

// Flush lets streamed responses through.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countedBody counts the request body's bytes as the handler reads them.
type countedBody struct {
	io.ReadCloser
	n int64
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// track makes sure r carries an Info and that w and r's body record into
// it, returning what the rest of the chain must use.
func track(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, *Info) {
	r, info := withInfo(r)
	if info.rec.ResponseWriter != nil {
		return w, r, info
	}
	info.rec = recorder{ResponseWriter: w, info: info}
	if r.Body != nil && r.Body != http.NoBody {
		info.body.ReadCloser = r.Body
		r.Body = &info.body
	}
	return &info.rec, r, info
}

// Status is the HTTP status written so far (0 before the header is), as
// recorded by State's writer.
func (i *Info) Status() int { return i.rec.status }

// BytesOut counts the response body bytes written so far.
func (i *Info) BytesOut() int64 { return i.rec.bytes }

// BytesIn counts the request body bytes read so far.
func (i *Info) BytesIn() int64 { return i.body.n }
