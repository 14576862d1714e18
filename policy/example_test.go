package policy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
)

// A Go program embeds the policy chain by putting one policy per stage in
// a Set and compiling it around its own handler: the stages run in their
// declared order whatever order they were put in, and policy.State in
// front gives every request the shared Info the stages read.
func Example() {
	allow, err := policy.ParsePrefixes([]string{"192.0.2.0/24"})
	if err != nil {
		panic(err)
	}
	cors, err := policy.CORS(policy.CORSOptions{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		panic(err)
	}
	// A fixed clock keeps the limiter's answers (and this output) exact.
	clock := func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }
	limit, err := policy.RateLimit(policy.RateLimitOptions{Rules: []policy.Rule{{
		Name:  "per-ip",
		By:    policy.ByIP,
		Limit: policy.Limit{Rate: 1, Period: time.Minute},
		Store: policy.NewLocalLimiter(time.Hour, clock),
	}}})
	if err != nil {
		panic(err)
	}

	var set policy.Set
	set.Put(policy.StageRateLimit, limit)
	set.Put(policy.StageCORS, cors)
	set.Put(policy.StageIPFilter, policy.IPFilter(allow, nil))
	set.Put(policy.StageRecover, policy.Recover(zerolog.Nop()))
	fmt.Println("stages:", set.Stages())

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello\n")
	})
	h := policy.State()(policy.Compile(set, hello))

	for _, from := range []string{"192.0.2.10:4711", "192.0.2.10:4712", "203.0.113.5:4711"} {
		r := httptest.NewRequest(http.MethodGet, "/v1/hello", nil)
		r.RemoteAddr = from
		r.Header.Set("Origin", "https://app.example.com")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%s: %d allow-origin=%q %s\n", from, w.Code, w.Header().Get("Access-Control-Allow-Origin"), strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// stages: [recover ip_filter cors rate_limit]
	// 192.0.2.10:4711: 200 allow-origin="https://app.example.com" hello
	// 192.0.2.10:4712: 429 allow-origin="https://app.example.com" {"code":8,"message":"rate limit per-ip exceeded (1 per 1m0s); retry after 60s","details":[]}
	// 203.0.113.5:4711: 403 allow-origin="" {"code":7,"message":"client address 203.0.113.5 is not in the allowed networks","details":[]}
}
