package policy

import (
	"fmt"
	"net/http"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// SizeLimit caps request bodies at max bytes: a declared Content-Length
// over the cap gets 413 at once, before authentication spends any work on
// the request; a body that turns out longer fails when it is read
// (http.MaxBytesError, which the gateway answers with 413 too). It can only
// lower the gateway-wide max_body_bytes, which is still applied. Nil when
// max <= 0.
func SizeLimit(max int64) Policy {
	if max <= 0 {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				rpcstatus.WriteStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
					fmt.Sprintf("request body exceeds the limit of %d bytes", max))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}
