package grpcproxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// maxRejection bounds the JSON status body a rejection may buffer.
const maxRejection = 64 << 10

// rejections turns the gateway's HTTP rejections (a policy's 401, 429 or
// 403, the guard's 413 …, each a google.rpc.Status JSON body) into gRPC
// trailers-only responses, so that a gRPC client reads the code and message
// instead of "unexpected HTTP status code". Anything else passes as it is.
type rejections struct {
	http.ResponseWriter
	wrote      bool
	converting bool
	status     int
	body       []byte
}

// Reject wraps w for a request in an RPC protocol; finish must run once the
// handler has returned.
func Reject(w http.ResponseWriter) (_ http.ResponseWriter, finish func()) {
	rw := &rejections{ResponseWriter: w}
	return rw, rw.finish
}

func (w *rejections) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code >= 300 && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		w.converting, w.status = true, code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rejections) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.converting {
		if len(w.body)+len(p) <= maxRejection {
			w.body = append(w.body, p...)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streamed responses through.
func (w *rejections) Flush() {
	if w.converting {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *rejections) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *rejections) finish() {
	if !w.converting {
		return
	}
	var st struct {
		Code    *int32 `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(w.body, &st)
	code := rpcstatus.Code(w.status)
	if st.Code != nil {
		code = codes.Code(*st.Code)
	}
	msg := st.Message
	if msg == "" {
		msg = http.StatusText(w.status)
	}
	WriteStatus(w.ResponseWriter, code, msg)
}

// WriteStatus answers a gRPC request with a trailers-only response: HTTP
// 200, the gRPC code and its message in headers, no body.
func WriteStatus(w http.ResponseWriter, code codes.Code, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(int(code)))
	h.Set("Grpc-Message", encodeMessage(msg))
	rpcstatus.RecordCode(w, int32(code))
	w.WriteHeader(http.StatusOK)
}

// encodeMessage percent-encodes a grpc-message value as the gRPC protocol
// asks: bytes outside printable ASCII, and '%'.
func encodeMessage(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}
