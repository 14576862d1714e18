// Package policy owns refract's request middleware: the single ordered list
// of stages a request passes (recover, request id, access log, client IP,
// IP filter, CORS, the guard of the limits every request is held to, size
// limit, authentication, authorization, rate limit, external
// authorization, the named checks of policy/checks, then the upstream
// call), one file per policy, and
// Compile, which turns the policies attached to a route into one immutable
// http.Handler.
//
// A policy is func(next http.Handler) http.Handler. Policies find the
// request's shared state (request id, client IP, consumer, JWT subject,
// route) in an *Info carried by the request context; the outermost stage
// puts it there. Rejections are google.rpc.Status JSON bodies.
//
// Resilience and traffic policies act on the upstream call rather than on
// the HTTP request; they live in policy/resilience, which knows no HTTP.
// policy keeps their HTTP edges: ServeFallback writes a fallback response
// and SplitRequest lets a split read an *http.Request.
//
// Beside the stages, policy holds the HTTP checks the gateway makes where
// a stage cannot (a WebSocket handshake's version and origin, reading a
// body within its limit) and the client's address as the stages decided
// it (ClientAddr).
//
// policy does not read configuration files, match routes or call upstreams:
// the gateway builds options from its config, matches the route, and hands
// Compile the handler that makes the upstream call (unary or stream).
package policy
