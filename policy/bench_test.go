package policy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/refract-gateway/refract/policy/policytest"
	"github.com/rs/zerolog"
)

// fullChain is every policy on, as a route sees it: recover, request id,
// access log (JSON to io.Discard at info), client IP through a trusted
// proxy, IP allow/deny, CORS, size limit, API key and JWT authentication,
// authorization by consumer and scope, and a local rate limit by IP that
// never runs out.
func fullChain(b *testing.B, withJWT bool) (http.Handler, *http.Request) {
	key := policytest.NewKey(b, "k1", "ES256")
	srv := policytest.ServeJWKS(b, key)
	jwks, _ := jwt.NewJWKS(jwt.JWKSOptions{URL: srv.URL})
	if err := jwks.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	jv, err := jwt.NewVerifier(jwt.Options{Algorithms: []string{"ES256"}, Issuer: "https://id.test",
		Audiences: []string{"refract"}, Keys: jwks, ForwardClaims: map[string]string{"sub": "x-user-id"}})
	if err != nil {
		b.Fatal(err)
	}
	cs, err := policy.NewConsumers(policy.ConsumersOptions{Consumers: []policy.ConsumerOptions{
		{Name: "app", KeyHashes: [][32]byte{policy.HashKey("app-key")}, Allow: []string{"library.*"}}}})
	if err != nil {
		b.Fatal(err)
	}
	trusted, _ := policy.ParsePrefixes([]string{"10.0.0.0/8"})
	allow, _ := policy.ParsePrefixes([]string{"192.0.2.0/24"})
	deny, _ := policy.ParsePrefixes([]string{"192.0.2.99"})
	al, _ := policy.AccessLog(policy.AccessLogOptions{Logger: zerolog.New(io.Discard)})
	cors, _ := policy.CORS(policy.CORSOptions{AllowedOrigins: []string{"https://app.example.com"}})
	rl, _ := policy.RateLimit(policy.RateLimitOptions{Route: "GET /v1/x", Rules: []policy.Rule{{Name: "ip", By: policy.ByIP,
		Limit: policy.Limit{Rate: 1 << 30, Period: time.Second}, Store: policy.NewLocalLimiter(0, nil)}}})
	var s policy.Set
	s.Put(policy.StageRecover, policy.Recover(zerolog.Nop()))
	s.Put(policy.StageRequestID, policy.RequestID())
	s.Put(policy.StageAccessLog, al)
	s.Put(policy.StageClientIP, policy.ClientIP(trusted))
	s.Put(policy.StageIPFilter, policy.IPFilter(allow, deny))
	s.Put(policy.StageCORS, cors)
	s.Put(policy.StageSizeLimit, policy.SizeLimit(1<<20))
	s.Put(policy.StageAuthenticate, policy.Authenticate(policy.AuthOptions{Consumers: cs, JWT: jv}))
	az := policy.AuthzOptions{Upstream: "library", Method: "library.v1.S.M", Consumers: cs}
	if withJWT {
		az.Scopes = []string{"read"}
	}
	s.Put(policy.StageAuthorize, policy.Authorize(az))
	s.Put(policy.StageRateLimit, rl)
	h := policy.Compile(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	req := httptest.NewRequest("GET", "/v1/x", nil)
	req.RemoteAddr = "10.1.1.1:5000"
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("X-Api-Key", "app-key")
	if withJWT {
		req.Header.Set("Authorization", "Bearer "+key.Sign(b, gojwt.MapClaims{"iss": "https://id.test", "aud": "refract",
			"sub": "u1", "exp": time.Now().Add(time.Hour).Unix(), "scope": "read"}))
	}
	return h, req
}

// BenchmarkChainAllPolicies is the chain's own cost per request, every
// policy on, with an upstream call that does nothing.
func BenchmarkChainAllPolicies(b *testing.B) { benchChain(b, true) }

// BenchmarkChainAllPoliciesAPIKeyOnly is the same with an API key and no
// bearer token (the ES256 signature check is most of the cost above).
func BenchmarkChainAllPoliciesAPIKeyOnly(b *testing.B) { benchChain(b, false) }

// benchChain serves fullChain's request in a loop and expects 200 each time.
func benchChain(b *testing.B, withJWT bool) {
	h, req := fullChain(b, withJWT)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkAccessLogLine is the access log's cost per request, with the
// logger as the server builds it (timestamp, component) writing to
// io.Discard: the line's encoding, without the queue or the sink.
func BenchmarkAccessLogLine(b *testing.B) {
	al, err := policy.AccessLog(policy.AccessLogOptions{
		Logger: zerolog.New(io.Discard).With().Timestamp().Logger().With().Str("component", "access").Logger()})
	if err != nil {
		b.Fatal(err)
	}
	var s policy.Set
	s.Put(policy.StageRequestID, policy.RequestID())
	s.Put(policy.StageAccessLog, al)
	h := policy.Compile(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	req := httptest.NewRequest("GET", "/v1/shelves/1/books/2?view=full", nil)
	req.RemoteAddr = "10.1.1.1:5000"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
