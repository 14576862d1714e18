package bodyformat

import (
	"fmt"
	"net/http"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// sameOrigin is the CSRF defence of form and multipart bodies, which a
// browser sends cross-site without a CORS preflight (and with the user's
// cookies): the request must come from the route's own origin or a trusted
// one, or carry the configured header, which a browser only sends
// cross-origin after a preflight. It answers 403 and returns false
// otherwise.
func (rt *Route) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	c := rt.o.CSRF
	if c.Off || c.Header != "" && r.Header.Get(c.Header) != "" {
		return true
	}
	if rt.csrf.Check(r) == nil {
		return true
	}
	from := "Origin " + r.Header.Get("Origin")
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		from = "Sec-Fetch-Site: " + site
	}
	msg := fmt.Sprintf("cross-origin form post refused (%s, Host %s): a form or multipart body is only taken from this gateway's own origin"+
		" or a trusted one (body_formats.csrf.trusted_origins)", from, r.Host)
	if c.Header != "" {
		msg += fmt.Sprintf(", or with the header %s set", c.Header)
	}
	rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, msg+"; or send the body as JSON")
	return false
}
