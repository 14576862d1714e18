package rpcstatus

import (
	"net/http"
	"strconv"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// ContentType is the media type of an error body.
const ContentType = "application/json"

// codeSetter is implemented by the access log's response writer, so the
// gRPC code of a response reaches the log whoever wrote it.
type codeSetter interface{ SetGRPCCode(int32) }

// RecordCode tells the access log (when w is its writer, or wraps it with
// a SetGRPCCode method) which gRPC code the response carries; otherwise it
// does nothing.
func RecordCode(w http.ResponseWriter, code int32) {
	if cs, ok := w.(codeSetter); ok {
		cs.SetGRPCCode(code)
	}
}

// Write is the one writer of the error shape: it records code for the
// access log, sets Content-Type (application/json), Content-Length and
// X-Content-Type-Options: nosniff, and writes httpStatus and body, which
// must be a google.rpc.Status JSON document (Encode's output, or a
// caller's rendering with its own detail types). Headers already set on w
// (Retry-After, WWW-Authenticate) are kept.
func Write(w http.ResponseWriter, httpStatus int, code codes.Code, body []byte) {
	RecordCode(w, int32(code))
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// WriteStatus answers with a google.rpc.Status of code and msg, without
// details, and httpStatus.
func WriteStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	Write(w, httpStatus, code, Encode(&spb.Status{Code: int32(code), Message: msg}, nil))
}

// WriteProto answers with st, its details resolved through the linked-in
// registry, and httpStatus.
func WriteProto(w http.ResponseWriter, httpStatus int, st *spb.Status) {
	Write(w, httpStatus, codes.Code(st.GetCode()), Encode(st, nil))
}

// Challenge sets WWW-Authenticate on h for an UNAUTHENTICATED status from a
// backend: a 401 must carry one (RFC 9110 §11.6.1), and grpc-gateway sets
// it to the status message, which its clients may read. Control bytes of
// the message are dropped (it is the backend's text, and a header value
// must not hold them). A challenge already on h (the gateway's own
// authentication policy's) is kept. Other codes leave h alone.
func Challenge(h http.Header, st *spb.Status) {
	if codes.Code(st.GetCode()) != codes.Unauthenticated || h.Get("WWW-Authenticate") != "" {
		return
	}
	h.Set("WWW-Authenticate", strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, st.GetMessage()))
}
