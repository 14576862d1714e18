package policy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// AuthOptions say which credentials a route accepts. With both set, a
// request may present either; every credential presented must be valid.
type AuthOptions struct {
	Consumers *Consumers    // API keys; nil: not accepted
	JWT       *jwt.Verifier // bearer tokens; nil: not accepted
	Realm     string        // for WWW-Authenticate; default "refract"
}

// Authenticate identifies the caller: a valid API key sets Info.Consumer
// (its name goes to the upstream as metadata), a valid bearer token sets
// Info.Subject, its scopes and the claims chosen for forwarding. Missing or
// invalid credentials get 401 UNAUTHENTICATED with a WWW-Authenticate
// challenge and a body that says what to fix. More than one Authorization
// header, or a valid token whose forwarded claim cannot be a metadata
// value (jwt.ClaimError), get 400 INVALID_ARGUMENT. What it verified is
// recorded for Info.Credentials. Nil when o accepts nothing.
func Authenticate(o AuthOptions) Policy {
	if o.Consumers == nil && o.JWT == nil {
		return nil
	}
	if o.Realm == "" {
		o.Realm = "refract"
	}
	var wants []string
	if o.Consumers != nil {
		w := "an API key in the " + o.Consumers.header + " header"
		if o.Consumers.query != "" {
			w += " (or the " + o.Consumers.query + " query parameter)"
		}
		wants = append(wants, w)
	}
	if o.JWT != nil {
		wants = append(wants, "a bearer token in the Authorization header")
	}
	missing := "missing credentials: send " + strings.Join(wants, " or ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, info := withInfo(r)
			if n := len(r.Header.Values("Authorization")); n > 1 {
				// Only one could be checked, and every one would be
				// forwarded: refuse rather than guess which one counts.
				rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument,
					fmt.Sprintf("the request has %d Authorization headers; send exactly one", n))
				return
			}
			presented := false
			if o.Consumers != nil {
				if key, ok := o.Consumers.credential(r); ok {
					presented = true
					c := o.Consumers.Lookup(key)
					if c == nil {
						unauthorized(w, o, "", "the API key is not valid")
						return
					}
					info.Consumer, info.apiKey = c, key
					info.Metadata = append(info.Metadata, o.Consumers.metaKey, c.Name)
				}
			}
			if o.JWT != nil {
				if token, ok := bearer(r); ok {
					presented = true
					v, err := o.JWT.Verify(r.Context(), token)
					var ce *jwt.ClaimError
					if errors.As(err, &ce) {
						rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, ce.Error())
						return
					}
					if err != nil {
						unauthorized(w, o, "invalid_token", err.Error())
						return
					}
					info.Subject, info.scopes, info.claims = v.Subject, v.Scopes, v.Claims
					info.bearer = r.Header.Get("Authorization")
					info.Metadata = append(info.Metadata, v.Metadata...)
				}
			}
			if !presented {
				unauthorized(w, o, "", missing)
				return
			}
			info.authn = true
			next.ServeHTTP(w, r)
		})
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// unauthorized writes 401 with one challenge per accepted scheme (RFC 6750
// for bearer tokens: error and error_description when a token was bad).
func unauthorized(w http.ResponseWriter, o AuthOptions, bearerErr, msg string) {
	h := w.Header()
	if o.JWT != nil {
		c := fmt.Sprintf("Bearer realm=%q", o.Realm)
		if bearerErr != "" {
			c += fmt.Sprintf(", error=%q, error_description=%q", bearerErr, msg)
		}
		h.Add("WWW-Authenticate", c)
	}
	if o.Consumers != nil {
		h.Add("WWW-Authenticate", fmt.Sprintf("APIKey realm=%q, header=%q", o.Realm, o.Consumers.header))
	}
	rpcstatus.WriteStatus(w, http.StatusUnauthorized, codes.Unauthenticated, msg)
}
