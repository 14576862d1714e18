package compat

import (
	"net/http"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// StreamDialect reports whether a server stream in framing f answers in
// m's dialect: grpc-gateway's newline-delimited JSON and raw HttpBody
// streams do; SSE and JSON arrays, which grpc-gateway does not have and a
// client asks for explicitly, keep refract's shapes.
func (m Mode) StreamDialect(f transcode.Framing) bool {
	return m == GRPCGateway && (f == transcode.FramingNDJSON || f == transcode.FramingRaw)
}

// WriteStreamError answers a server stream that failed before its first
// message as grpc-gateway does: the status mapped to HTTP, and a body that
// is the stream's error line, {"error": <google.rpc.Status>} and a newline
// (refract answers a plain Status body, as for a unary call), chunked like
// any grpc-gateway stream. status is the Status JSON (rpcstatus.Encode's
// rendering, details resolved). Headers already set on w (metadata,
// WWW-Authenticate) are kept.
func WriteStreamError(w http.ResponseWriter, code codes.Code, status []byte) {
	rpcstatus.RecordCode(w, int32(code))
	h := w.Header()
	h.Set("Content-Type", rpcstatus.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Transfer-Encoding", "chunked")
	w.WriteHeader(rpcstatus.HTTPStatus(code))
	body := make([]byte, 0, len(status)+11)
	_, _ = w.Write(append(append(append(body, `{"error":`...), status...), "}\n"...))
}

// ChunkDelimiter is what grpc-gateway writes after each chunk of a
// google.api.HttpBody stream: its marshaler's delimiter, a newline, even
// though the chunks are raw bytes. Refract writes the chunks back to back,
// so that a download is the bytes the backend sent.
const ChunkDelimiter = '\n'
