package policy

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// AuthzOptions are one route's access rules, checked after authentication.
type AuthzOptions struct {
	// Upstream and Method name the route, for the consumers' allow lists
	// (evaluated here, once, not per request) and the messages.
	Upstream, Method string
	// Consumers whose allow lists are checked; nil skips the check.
	Consumers *Consumers
	// Scopes the bearer token must all carry.
	Scopes []string
	// Claims the bearer token must carry with these values (for an array
	// claim: contain the value).
	Claims map[string]string
}

// Authorize answers 403 PERMISSION_DENIED when the consumer may not call
// this route, or the token lacks a required scope or claim. Nil when there
// is nothing to check.
func Authorize(o AuthzOptions) Policy {
	var denied []bool // by consumer index
	if o.Consumers != nil {
		for _, c := range o.Consumers.list {
			if !c.Allowed(o.Upstream, o.Method) {
				if denied == nil {
					denied = make([]bool, len(o.Consumers.list))
				}
				denied[c.index] = true
			}
		}
	}
	if denied == nil && len(o.Scopes) == 0 && len(o.Claims) == 0 {
		return nil
	}
	claimNames := make([]string, 0, len(o.Claims))
	for k := range o.Claims {
		claimNames = append(claimNames, k)
	}
	slices.Sort(claimNames)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, info := withInfo(r)
			if c := info.Consumer; c != nil && denied != nil && denied[c.index] {
				forbid(w, fmt.Sprintf("consumer %q may not call %s", c.Name, o.Method))
				return
			}
			if len(o.Scopes) > 0 || len(o.Claims) > 0 {
				if info.claims == nil {
					forbid(w, fmt.Sprintf("%s requires a bearer token (scopes %s)", o.Method, strings.Join(o.Scopes, " ")))
					return
				}
				var lacking []string
				for _, s := range o.Scopes {
					if !slices.Contains(info.scopes, s) {
						lacking = append(lacking, s)
					}
				}
				if len(lacking) > 0 {
					forbid(w, fmt.Sprintf("the token lacks the scope(s) %s required by %s", strings.Join(lacking, " "), o.Method))
					return
				}
				for _, k := range claimNames {
					if !jwt.ClaimHas(info.claims[k], o.Claims[k]) {
						forbid(w, fmt.Sprintf("the token's claim %q must be %q to call %s", k, o.Claims[k], o.Method))
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func forbid(w http.ResponseWriter, msg string) {
	rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, msg)
}
