package policy

import (
	"encoding/json"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
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
	// The same bytes the gateway writes for a google.rpc.Status without
	// details (details always present, as an empty list).
	m, _ := json.Marshal(msg) // a string always marshals
	body := make([]byte, 0, 40+len(m))
	body = append(body, `{"code":`...)
	body = strconv.AppendInt(body, int64(code), 10)
	body = append(body, `,"message":`...)
	body = append(body, m...)
	body = append(body, `,"details":[]}`...)
	RecordCode(w, int32(code))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
