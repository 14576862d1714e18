package gateway

import (
	"net/http"

	"github.com/refract-gateway/refract/gateway/observe"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/protobuf/proto"
)

// rejectInvalid answers 400 with a google.rpc.BadRequest listing every
// violation and returns true when req breaks the buf.validate rules of
// its route (transcode.Validation). A rule that cannot be evaluated is
// logged and the request served: refusing every call for a gateway-side
// problem would be worse.
func (g *Gateway) rejectInvalid(w http.ResponseWriter, rt *route, req proto.Message) bool {
	if rt.validator == nil {
		return false
	}
	st, err := transcode.InvalidRequest(rt.validator, req)
	if err != nil {
		g.log.Warn().Err(err).Str("method", rt.method).Msg("edge validation could not evaluate the rules; serving unchecked")
		return false
	}
	if st == nil {
		return false
	}
	g.obs.Rejected(observe.RejectValidate)
	// nil binding: BadRequest resolves from the gateway's own types, which
	// the upstream's descriptors need not include.
	writeStatusProto(w, http.StatusBadRequest, st, nil)
	return true
}
