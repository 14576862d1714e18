package policy

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// Info is one request's shared state: what earlier stages learned (request
// id, client IP, consumer, JWT subject and claims) and what the gateway
// fills in after the route match and the upstream call, for the access log.
// The outermost stage creates it; it belongs to one request and is not safe
// for concurrent use.
type Info struct {
	Start     time.Time
	RequestID string
	// ClientIP is the client's address: the connection's peer, or the
	// X-Forwarded-For entry left of the last trusted proxy.
	ClientIP netip.Addr

	// Set by the gateway after the route match.
	Route    string // "GET /v1/{name=shelves/*}"
	Method   string // gRPC method full name
	Upstream string
	PathVars []string  // the matched route's variables, for the upstream call
	varsBuf  [4]string // PathVars' array for up to four variables (VarsBuffer)

	// Set by the gateway after the upstream call.
	Endpoint string // the upstream address that answered
	// Cause is why the call failed in an operator's words, when the caller
	// was told it in plainer ones (grpc-go's transport errors); logged.
	Cause string
	code  int32 // gRPC code of the answer; -1 until known

	// Set by authentication.
	Consumer *Consumer
	Subject  string
	// Metadata holds key, value pairs that authentication wants the
	// upstream to see (the consumer name, chosen JWT claims).
	Metadata []string
	scopes   []string
	claims   map[string]any
	// authn says authentication passed; bearer and apiKey are the
	// credentials it verified ("" for one not presented).
	authn          bool
	bearer, apiKey string

	rec  recorder    // the response writer State installs
	body countedBody // the request body, counted

	// Stage is the innermost policy stage the request has entered, or
	// NoStage before the first and once past the policies (the gateway
	// keeps it); a request answered with an error while it names a stage
	// was rejected by that stage's policy, which metrics count.
	Stage Stage
	// Observer is the gateway's per-route metrics handle, attached after
	// the route match; policies never read it.
	Observer any
}

type infoKey struct{}

// InfoFrom returns the request's Info, or nil outside a chain.
func InfoFrom(ctx context.Context) *Info {
	i, _ := ctx.Value(infoKey{}).(*Info)
	return i
}

// withInfo makes sure r carries an Info, returning both.
func withInfo(r *http.Request) (*http.Request, *Info) {
	if i := InfoFrom(r.Context()); i != nil {
		return r, i
	}
	i := &Info{Start: time.Now(), code: -1, Stage: NoStage}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		i.ClientIP = ap.Addr().Unmap().WithZone("")
	}
	return r.WithContext(context.WithValue(r.Context(), infoKey{}, i)), i
}

// VarsBuffer returns an empty slice over storage the Info owns, for the
// route match to put PathVars in without allocating
// (router.Table.MatchAppend).
func (i *Info) VarsBuffer() []string { return i.varsBuf[:0] }

// SetCode records the gRPC code of the answer for the access log.
func (i *Info) SetCode(code int32) { i.code = code }

// Code is the recorded gRPC code, or -1.
func (i *Info) Code() int32 { return i.code }

// Credentials reports whether authentication passed on the request
// (false on a route without auth), and the credentials it verified: the
// Authorization header's value when it held a valid bearer token, and a
// valid API key; "" for one not presented. On an authenticated route
// these, and nothing the gateway did not check, may reach the upstream
// under the credential keys (KeepVerified).
func (i *Info) Credentials() (authenticated bool, authorization, apiKey string) {
	return i.authn, i.bearer, i.apiKey
}

// KeepVerified leaves under key in md (outgoing metadata) at most one
// value, verified, and only if md holds it; with verified "" it removes
// key. It makes an authenticated route forward exactly the credential
// the gateway checked (Credentials).
func KeepVerified(md map[string][]string, key, verified string) {
	vals, ok := md[key]
	if !ok {
		return
	}
	if verified != "" && slices.Contains(vals, verified) {
		md[key] = vals[:1]
		vals[0] = verified
		return
	}
	delete(md, key)
}

// Claim is a claim of the verified bearer token (false without a token
// or without that claim), as the token's JSON decoded it.
func (i *Info) Claim(name string) (any, bool) {
	v, ok := i.claims[name]
	return v, ok
}

// ConsumerName is the authenticated consumer's name, or "".
func (i *Info) ConsumerName() string {
	if i.Consumer == nil {
		return ""
	}
	return i.Consumer.Name
}

// State is the outermost policy: it attaches a fresh Info to each request
// and records the response into it (status, bytes, gRPC code).
// Every chain the gateway compiles for its edge starts with it (Compile does
// not add it by itself, so route chains reuse the edge's Info).
func State() Policy {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w, r, _ = track(w, r)
			next.ServeHTTP(w, r)
		})
	}
}
