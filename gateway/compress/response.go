package compress

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Options configure response compression.
type Options struct {
	// MinBytes is the size from which a response is compressed; a smaller
	// one is sent as it is (unless it is flushed first: a stream). Default
	// 1024.
	MinBytes int
	// Encodings are the codings offered, in the server's order of
	// preference among those the client accepts: "zstd", "br", "gzip".
	// Default all three, in that order.
	Encodings []string
}

// Responses compresses the responses of next per Options. Safe for
// concurrent use.
type Responses struct {
	min   int
	order []string
	pools map[string]*sync.Pool
}

// NewResponses validates o and returns the compressor.
func NewResponses(o Options) (*Responses, error) {
	if o.MinBytes <= 0 {
		o.MinBytes = 1024
	}
	if len(o.Encodings) == 0 {
		o.Encodings = []string{"zstd", "br", "gzip"}
	}
	c := &Responses{min: o.MinBytes, pools: map[string]*sync.Pool{}}
	for _, e := range o.Encodings {
		var newW func() any
		switch e {
		case "gzip":
			newW = func() any { w, _ := gzip.NewWriterLevel(nil, 5); return resettable(w) }
		case "zstd":
			newW = func() any {
				w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
				return resettable(w)
			}
		case "br":
			newW = func() any { return resettable(brotli.NewWriterLevel(nil, 4)) }
		default:
			return nil, &UnsupportedError{Encoding: e}
		}
		c.order = append(c.order, e)
		c.pools[e] = &sync.Pool{New: newW}
	}
	return c, nil
}

// Encodings lists the codings offered, in order.
func (c *Responses) Encodings() []string { return c.order }

// MinBytes is the compression threshold.
func (c *Responses) MinBytes() int { return c.min }

// resettable is an encoder the pool can hand to another response.
type resettable interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

// Wrap compresses next's responses.
func (c *Responses) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.Serve(w, r, next) })
}

// Serve runs next for r, compressing its response when the client accepts
// a coding offered.
func (c *Responses) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method == http.MethodHead || r.Header.Get("Upgrade") != "" {
		next.ServeHTTP(w, r)
		return
	}
	enc := c.negotiate(r.Header.Get("Accept-Encoding"))
	w.Header().Add("Vary", "Accept-Encoding")
	if enc == "" {
		next.ServeHTTP(w, r)
		return
	}
	cw := &writer{ResponseWriter: w, c: c, enc: enc}
	defer cw.close()
	next.ServeHTTP(cw, r)
}

// negotiate picks the first offered coding the client accepts (q > 0),
// or "" for none.
func (c *Responses) negotiate(accept string) string {
	if accept == "" {
		return ""
	}
	q := map[string]float64{}
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		v := 1.0
		if p := strings.TrimSpace(params); strings.HasPrefix(p, "q=") {
			if f, err := strconv.ParseFloat(p[2:], 64); err == nil {
				v = f
			}
		}
		q[strings.ToLower(strings.TrimSpace(name))] = v
	}
	for _, e := range c.order {
		if v, ok := q[e]; ok {
			if v > 0 {
				return e
			}
			continue
		}
		if v, ok := q["*"]; ok && v > 0 {
			return e
		}
	}
	return ""
}

// compressible tells the media types worth compressing: text and JSON;
// not images, archives or bodies already coded.
func compressible(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json") ||
		strings.Contains(ct, "+json") || strings.HasPrefix(ct, "application/x-ndjson") ||
		strings.HasPrefix(ct, "application/xml") || strings.HasPrefix(ct, "application/javascript") ||
		strings.HasPrefix(ct, "application/yaml")
}

// writer holds back the first MinBytes of a response to decide, then
// either compresses everything or passes everything through.
type writer struct {
	http.ResponseWriter
	c       *Responses
	enc     string
	status  int
	decided bool
	zw      resettable // nil: passing through
	buf     []byte
}

func (w *writer) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified || !w.eligible() {
		w.decide(false)
	}
}

// eligible: nobody coded the body yet, and its type is worth it.
func (w *writer) eligible() bool {
	h := w.Header()
	return h.Get("Content-Encoding") == "" && compressible(h.Get("Content-Type"))
}

func (w *writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.decided {
		if cl := w.Header().Get("Content-Length"); cl != "" {
			if n, err := strconv.Atoi(cl); err == nil && n < w.c.min {
				w.decide(false)
				return w.ResponseWriter.Write(p)
			}
		}
		w.buf = append(w.buf, p...)
		if len(w.buf) < w.c.min {
			return len(p), nil
		}
		w.decide(true)
		return len(p), w.flushBuf()
	}
	if w.zw != nil {
		return w.zw.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// decide sends the header, with the coding when compressing.
func (w *writer) decide(compress bool) {
	w.decided = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if compress {
		h := w.Header()
		h.Set("Content-Encoding", w.enc)
		h.Del("Content-Length")
		if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
			// The representation changed: a strong validator no longer
			// names these bytes.
			h.Set("Etag", "W/"+et)
		}
		w.zw = w.c.pools[w.enc].Get().(resettable)
		w.zw.Reset(w.ResponseWriter)
	}
	w.ResponseWriter.WriteHeader(w.status)
}

func (w *writer) flushBuf() error {
	if len(w.buf) == 0 {
		return nil
	}
	var err error
	if w.zw != nil {
		_, err = w.zw.Write(w.buf)
	} else {
		_, err = w.ResponseWriter.Write(w.buf)
	}
	w.buf = nil
	return err
}

// Flush sends what was written so far: a stream's message reaches the
// client compressed, without waiting for the threshold.
func (w *writer) Flush() {
	if !w.decided {
		w.decide(w.eligible())
		_ = w.flushBuf()
	}
	if w.zw != nil {
		_ = w.zw.Flush()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// close ends the response: a short one goes out as it is.
func (w *writer) close() {
	if !w.decided {
		if w.status == 0 && len(w.buf) == 0 {
			return // nothing was written: net/http answers 200 itself
		}
		w.decide(false)
		_ = w.flushBuf()
	}
	if w.zw != nil {
		_ = w.zw.Close()
		w.zw.Reset(nil)
		w.c.pools[w.enc].Put(w.zw)
		w.zw = nil
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack passes a WebSocket upgrade through.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
