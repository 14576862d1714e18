package policy

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
)

// Recover turns a panic anywhere after it into a logged 500 with a
// google.rpc.Status body instead of a dropped connection. (When the response
// has already started, net/http ignores the second status line.)
// http.ErrAbortHandler, net/http's own signal to abort, is re-raised.
func Recover(log zerolog.Logger) Policy {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ev := log.Error().Str("method", r.Method).Str("path", r.URL.EscapedPath())
				if i := InfoFrom(r.Context()); i != nil && i.RequestID != "" {
					ev = ev.Str("request_id", i.RequestID)
				}
				ev.Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("panic serving request")
				rpcstatus.WriteStatus(w, http.StatusInternalServerError, codes.Internal, "internal error in the gateway; it has been logged")
			}()
			next.ServeHTTP(w, r)
		})
	}
}
