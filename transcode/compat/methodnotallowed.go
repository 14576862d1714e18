package compat

import (
	"net/http"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// WriteMethodNotAllowed answers a request whose path only routes of other
// HTTP methods serve, as grpc-gateway does: 501 with UNIMPLEMENTED and the
// message "Method Not Allowed", and no Allow header. (Refract's own answer
// is 405 with an Allow header, which HTTP asks for.)
func WriteMethodNotAllowed(w http.ResponseWriter) {
	rpcstatus.WriteStatus(w, http.StatusNotImplemented, codes.Unimplemented, http.StatusText(http.StatusMethodNotAllowed))
}
