package policy

import (
	"bytes"
	"fmt"
	"io"
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

// ReadBody reads r's body whole within limit bytes: a declared
// Content-Length over limit, or a body that turns out longer, is an
// *http.MaxBytesError (answer 413). A body of known length is read in one
// allocation. nil for no body.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	// The announced size (plus ReadFrom's minimum free space, to see EOF)
	// in one allocation, where io.ReadAll doubles its way up from 512 bytes.
	buf := bytes.NewBuffer(make([]byte, 0, r.ContentLength+bytes.MinRead))
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
