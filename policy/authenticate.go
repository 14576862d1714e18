package policy

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
)

// AuthOptions say which credentials a route accepts. With both set, a
// request may present either; every credential presented must be valid.
type AuthOptions struct {
	Consumers *Consumers    // API keys; nil: not accepted
	JWT       *jwt.Verifier // bearer tokens; nil: not accepted
	Realm     string        // for WWW-Authenticate; default "refract"
	// Failures, when set, limits failed authentications per client
	// network; shared by every route of a gateway.
	Failures *AuthFailures
}

// AuthFailures limits failed authentications by client network (the
// client IP, an IPv6 one by its IPv6Prefix, as a rate limit keyed by ip):
// every 401 takes a token from the client's bucket, a success takes none,
// and while the bucket is empty every request that would authenticate
// gets 429 RESOURCE_EXHAUSTED with Retry-After before any credential is
// checked, so a guessed key cannot be confirmed while blocked.
type AuthFailures struct {
	// Name prefixes the buckets' keys and is quoted in the 429 message
	// (the config key, "policies.auth_failures").
	Name  string
	Limit Limit
	Store Limiter
	// FailOpen checks credentials when the store fails; otherwise the
	// request gets 503.
	FailOpen bool
	// IPv6Prefix as Rule.IPv6Prefix (0: DefaultIPv6Prefix).
	IPv6Prefix int
	Logger     zerolog.Logger
}

// Validate checks the limit (defaulting Burst to Rate) and the store.
func (f *AuthFailures) Validate() error {
	if err := f.Limit.validate(); err != nil {
		return fmt.Errorf("policy: %s: %w", f.Name, err)
	}
	if f.Store == nil {
		return fmt.Errorf("policy: %s: no store", f.Name)
	}
	return nil
}

// admit reports whether the client at key may try to authenticate,
// answering 429 (or 503) when it may not.
func (f *AuthFailures) admit(w http.ResponseWriter, r *http.Request, key string) bool {
	d, err := f.Store.Peek(r.Context(), key, f.Limit)
	if err != nil {
		if f.FailOpen {
			f.Logger.Warn().Err(err).Str("limit", f.Name).Msg("rate limiter unavailable; checking credentials (fail-open)")
			return true
		}
		f.Logger.Error().Err(err).Str("limit", f.Name).Msg("rate limiter unavailable; refusing (fail-closed)")
		w.Header().Set("Retry-After", "1")
		rpcstatus.WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "the rate limiter is unavailable; retry shortly")
		return false
	}
	if d.Allowed {
		return true
	}
	secs := max(ceilSeconds(d.RetryAfter), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	rpcstatus.WriteStatus(w, http.StatusTooManyRequests, codes.ResourceExhausted,
		fmt.Sprintf("too many failed authentications from this client network (%s: %d per %s); no credential is checked until you retry after %ds",
			f.Name, f.Limit.Rate, f.Limit.Period, secs))
	return false
}

// failed takes one token from the client's bucket.
func (f *AuthFailures) failed(r *http.Request, key string) {
	if _, err := f.Store.Allow(r.Context(), key, f.Limit); err != nil {
		f.Logger.Warn().Err(err).Str("limit", f.Name).Msg("rate limiter unavailable; failed authentication not counted")
	}
}

// Authenticate identifies the caller: a valid API key sets Info.Consumer
// (its name goes to the upstream as metadata), a valid bearer token sets
// Info.Subject, its scopes and the claims chosen for forwarding. Missing or
// invalid credentials get 401 UNAUTHENTICATED with a WWW-Authenticate
// challenge and a body that says what to fix. More than one Authorization
// header, or a valid token whose forwarded claim cannot be a metadata
// value (jwt.ClaimError), get 400 INVALID_ARGUMENT. What it verified is
// recorded for Info.Credentials. With o.Failures, failed authentications
// are limited per client network (see AuthFailures). Nil when o accepts
// nothing.
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
			var failKey string
			if f := o.Failures; f != nil {
				failKey = f.Name + "|" + limitKey(ByIP, info, "", f.IPv6Prefix)
				if !f.admit(w, r, failKey) {
					return
				}
			}
			refuse := func(bearerErr, msg string) { // 401, counted as a failure
				if o.Failures != nil {
					o.Failures.failed(r, failKey)
				}
				unauthorized(w, o, bearerErr, msg)
			}
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
						refuse("", "the API key is not valid")
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
						refuse("invalid_token", err.Error())
						return
					}
					info.Subject, info.scopes, info.claims = v.Subject, v.Scopes, v.Claims
					info.bearer = r.Header.Get("Authorization")
					info.Metadata = append(info.Metadata, v.Metadata...)
				}
			}
			if !presented {
				refuse("", missing)
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
