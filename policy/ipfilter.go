package policy

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// IPFilter answers 403 PERMISSION_DENIED to clients (as decided by
// ClientIP) in deny, or not in allow when allow is not empty. Deny wins
// over allow, so "allow 10.0.0.0/8, deny 10.6.6.0/24" works as read. Nil
// when both lists are empty.
func IPFilter(allow, deny []netip.Prefix) Policy {
	if len(allow) == 0 && len(deny) == 0 {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, info := withInfo(r)
			a := info.ClientIP
			switch {
			case !a.IsValid():
				rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, "the client address is unknown, and this gateway admits clients by address")
				return
			case containsAddr(deny, a):
				rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, fmt.Sprintf("client address %s is denied", a))
				return
			case len(allow) > 0 && !containsAddr(allow, a):
				rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, fmt.Sprintf("client address %s is not in the allowed networks", a))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
