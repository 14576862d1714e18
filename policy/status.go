package policy

import (
	"net/http"
	"strconv"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
)

// codeSetter is implemented by the access log's response writer, so the
// gRPC code of a rejection reaches the log whoever wrote it.
type codeSetter interface{ SetGRPCCode(int32) }

// RecordCode tells the access log (when w is its writer) which gRPC code
// the response carries.
func RecordCode(w http.ResponseWriter, code int32) {
	if cs, ok := w.(codeSetter); ok {
		cs.SetGRPCCode(code)
	}
}

// WriteStatus answers with the one error shape clients see: a
// google.rpc.Status JSON body, with httpStatus.
func WriteStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	body, err := protojson.Marshal(&spb.Status{Code: int32(code), Message: msg})
	if err != nil { // a Status of two scalars always marshals
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	RecordCode(w, int32(code))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
