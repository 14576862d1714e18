package compat

import (
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/metadata"
)

// UnaryWriter writes the header and trailing metadata of a unary call in
// m's dialect and returns the writer the answer (response or error) must
// go through.
//
// Refract: header metadata as Grpc-Metadata-* headers, trailing metadata as
// Grpc-Trailer-* headers (the answer is buffered, and every client reads
// headers), binary values base64-encoded; w itself is returned.
//
// GRPCGateway, when the request says TE: trailers: trailing metadata as
// real HTTP trailers named Grpc-Trailer-<key>, announced in a Trailer
// header, and the answer chunked (no Content-Length, which would leave no
// room for trailers), as grpc-gateway's ForwardResponseMessage and error
// handler do; "-bin" values go out decoded, as grpc-gateway sends them,
// unless they hold bytes no header may carry (control bytes), which stay
// base64. Without TE: trailers, trailing metadata is not sent at all, as
// grpc-gateway does (RFC 9110 §6.5.1: a server should not send trailers a
// client did not ask for).
func (m Mode) UnaryWriter(w http.ResponseWriter, r *http.Request, header, trailer metadata.MD) http.ResponseWriter {
	if m != GRPCGateway {
		transcode.WriteResponseMetadata(w.Header(), header, trailer)
		return w
	}
	h := w.Header()
	copyMD(h, transcode.MetadataHeaderPrefix, "", header)
	if !transcode.AcceptsTrailers(r.Header.Values("Te")) {
		return w
	}
	copyMD(h, transcode.TrailerHeaderPrefix, http.TrailerPrefix, trailer)
	return &trailerWriter{ResponseWriter: w}
}

// copyMD writes md as prefix+key headers; with mark (http.TrailerPrefix)
// they are trailers, which net/http sends after the body (and then only
// announces, under their own name, in the Trailer header).
func copyMD(h http.Header, prefix, mark string, md metadata.MD) {
	for k, vals := range md {
		if rpcstatus.ReservedMetadataKey(k) || !rpcstatus.ValidMetadataKey(k) {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(prefix + k)
		if mark != "" && len(vals) > 0 {
			h.Add("Trailer", name)
		}
		for _, v := range vals {
			switch {
			case strings.ContainsFunc(v, isControl) && strings.HasSuffix(k, "-bin"):
				v = base64.StdEncoding.EncodeToString([]byte(v))
			case strings.ContainsFunc(v, isControl):
				continue // CR, LF, NUL: never in a header
			}
			h[mark+name] = append(h[mark+name], v)
		}
	}
}

// isControl reports the bytes RFC 9110 keeps out of field values (all
// controls but HTAB); a value with one would split or corrupt the header.
func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// trailerWriter makes the answer chunked so that its trailers can follow
// it: the Content-Length set by the response and error writers is dropped
// when the status line goes out.
type trailerWriter struct {
	http.ResponseWriter
}

func (t *trailerWriter) WriteHeader(code int) {
	t.Header().Del("Content-Length")
	t.ResponseWriter.WriteHeader(code)
}

func (t *trailerWriter) Write(b []byte) (int, error) {
	t.Header().Del("Content-Length") // Write before WriteHeader implies 200
	return t.ResponseWriter.Write(b)
}

// SetGRPCCode passes the call's code on to the access log's writer.
func (t *trailerWriter) SetGRPCCode(code int32) { rpcstatus.RecordCode(t.ResponseWriter, code) }

// Unwrap gives http.ResponseController the writer underneath.
func (t *trailerWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
