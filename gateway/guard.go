package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rejectEscapes answers 400 when the matched (escaped) path carries an
// encoded separator outside the route's "**" (router.Template.CheckEscapes);
// it runs before the route's policies.
func rejectEscapes(w http.ResponseWriter, path string, tmpl *router.Template) bool {
	if err := tmpl.CheckEscapes(path); err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), nil)
		return true
	}
	return false
}

// notAcceptable answers 406 when the client's Accept allows no JSON for a
// unary call whose answer is JSON (google.api.HttpBody answers carry their
// own type and are not checked). Errors are JSON whatever Accept says.
func notAcceptable(w http.ResponseWriter, r *http.Request, b *transcode.Binding) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 || b.RawResponse() || transcode.AcceptsJSON(accept) {
		return false
	}
	writeStatus(w, http.StatusNotAcceptable, codes.InvalidArgument, fmt.Sprintf(
		"Accept %q allows no JSON; this method answers application/json", strings.Join(accept, ", ")), b)
	return true
}

// responseTooLarge answers 502 when the upstream's answer was larger than
// limits.max_response_bytes: grpc-go refuses to receive it with
// RESOURCE_EXHAUSTED, which must not read as the caller's quota (429).
func (g *Gateway) responseTooLarge(w http.ResponseWriter, rt *route, err error) bool {
	st, ok := status.FromError(err)
	limit := g.limits.ResponseBytes
	if !ok || !transcode.RecvTooLarge(st, int64(limit)) {
		return false
	}
	writeStatus(w, http.StatusBadGateway, codes.Internal, fmt.Sprintf(
		"upstream %q answered with a message over the limit of %d bytes (limits.max_response_bytes): %s", rt.up.name, limit, st.Message()), rt.binding)
	return true
}
