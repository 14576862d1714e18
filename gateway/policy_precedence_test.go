package gateway_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/refract-gateway/refract/policy/policytest"
	"google.golang.org/grpc"
)

const testHMAC = "precedence-secret-0123456789-0123456789"

// hsToken is a valid HS256 bearer token for the precedence configs.
func hsToken(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://id.test", "aud": "refract",
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testHMAC))
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// Precedence, as docs/policies.md states it: auth and max_body_bytes set at a
// more specific level replace the less specific value (global < upstream <
// route, a route matched by its template or by a method glob); ip rules
// and rate limits add up, each counted in the scope where it is declared.
func TestPolicyPrecedenceGlobalUpstreamRoute(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, policyConfig(lib.Addr, fmt.Sprintf(`
trusted_proxies: [127.0.0.1]
consumers: [{name: app, keys: [{value: app-key}]}]
jwt: {algorithms: [HS256], hmac_secret: {value: %s}, issuer: "https://id.test", audiences: [refract]}
policies:
  auth: [api_key]
  max_body_bytes: 1000
  ip: {deny: [203.0.113.0/24]}
  rate_limits: [{name: global-ip, key: ip, rate: 100, per: 1h}]
`, testHMAC), `
    policies:
      auth: [jwt]
      max_body_bytes: 200
      ip: {deny: [198.51.100.0/24]}
      rate_limits: [{name: upstream-route, key: route, rate: 50, per: 1h}]
    routes:
      - match: "GET /v1/shelves"
        policies: {auth: [none], max_body_bytes: 20}
      - match: "library.v1.LibraryService.*Shelf"
        policies:
          auth: [api_key]
          ip: {deny: [192.0.2.0/24]}
          rate_limits: [{name: shelf-ip, key: ip, rate: 2, per: 1h}]
`))
	from := func(ip string, hdr ...string) []string { return append([]string{"X-Forwarded-For", ip}, hdr...) }
	tok := hsToken(t, "u1")

	t.Run("auth: the most specific level wins", func(t *testing.T) {
		// Route by template: none.
		h.do(t, "GET", "/v1/shelves", "", from("10.0.0.1")...).expect(t, 200)
		// Upstream: jwt replaces the global api_key.
		r := h.do(t, "GET", "/v1/shelves/1/books/1", "", from("10.0.0.1", "X-Api-Key", "app-key")...).expect(t, 401)
		if got := r.header.Values("Www-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="refract"` {
			t.Fatalf("upstream level challenges %q", got)
		}
		h.do(t, "GET", "/v1/shelves/1/books/1", "", from("10.0.0.1", "Authorization", tok)...).expect(t, 200)
		// Route by method glob: api_key replaces the upstream's jwt.
		r = h.do(t, "GET", "/v1/shelves/1", "", from("10.0.0.2", "Authorization", tok)...).expect(t, 401)
		if got := r.header.Values("Www-Authenticate"); len(got) != 1 || got[0] != `APIKey realm="refract", header="X-Api-Key"` {
			t.Fatalf("route level challenges %q", got)
		}
		h.do(t, "GET", "/v1/shelves/1", "", from("10.0.0.2", "X-Api-Key", "app-key")...).expect(t, 200)
	})
	t.Run("max_body_bytes: the most specific level wins", func(t *testing.T) {
		body := `{"theme":"` + strings.Repeat("x", 250) + `"}` // over the upstream's 200, under the global 1000
		r := h.do(t, "POST", "/v1/shelves", body, from("10.0.0.3", "X-Api-Key", "app-key")...).expect(t, 413)
		jsonEq(t, r.body, `{"code":3,"message":"request body exceeds the limit of 200 bytes","details":[]}`)
		r = h.do(t, "GET", "/v1/shelves", `{"theme":"twenty-one bytes"}`, from("10.0.0.3")...).expect(t, 413)
		jsonEq(t, r.body, `{"code":3,"message":"request body exceeds the limit of 20 bytes","details":[]}`)
	})
	t.Run("ip rules add up", func(t *testing.T) {
		// Global: at the edge, before the route match.
		r := h.do(t, "GET", "/no/such/path", "", from("203.0.113.5")...).expect(t, 403)
		jsonEq(t, r.body, `{"code":7,"message":"client address 203.0.113.5 is denied","details":[]}`)
		// Upstream: every route of the upstream.
		r = h.do(t, "GET", "/v1/shelves", "", from("198.51.100.5")...).expect(t, 403)
		jsonEq(t, r.body, `{"code":7,"message":"client address 198.51.100.5 is denied","details":[]}`)
		// Route: only the routes it matches.
		r = h.do(t, "GET", "/v1/shelves/1", "", from("192.0.2.5", "X-Api-Key", "app-key")...).expect(t, 403)
		jsonEq(t, r.body, `{"code":7,"message":"client address 192.0.2.5 is denied","details":[]}`)
		h.do(t, "GET", "/v1/shelves", "", from("192.0.2.5")...).expect(t, 200)
	})
	t.Run("rate limits add up, each in its own scope", func(t *testing.T) {
		client := from("10.1.1.1", "X-Api-Key", "app-key")
		for _, want := range []string{"1", "0"} {
			r := h.do(t, "GET", "/v1/shelves/2", "", client...).expect(t, 200)
			if r.header.Get("Ratelimit-Limit") != "2" || r.header.Get("Ratelimit-Remaining") != want {
				t.Fatalf("tightest limit is the route's shelf-ip: %v", r.header)
			}
		}
		r := h.do(t, "GET", "/v1/shelves/2", "", client...).expect(t, 429)
		jsonEq(t, r.body, `{"code":8,"message":"rate limit shelf-ip exceeded (2 per 1h0m0s); retry after 1800s","details":[]}`)
		if r.header.Get("Retry-After") != "1800" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		// The same client on a route outside shelf-ip's scope: admitted. The
		// tightest limit there is the upstream's per-route one (50, one
		// bucket for every client of GetBook: the first subtest's token
		// call and this one), not global-ip (100 per client: this client's
		// four requests).
		r = h.do(t, "GET", "/v1/shelves/1/books/1", "", from("10.1.1.1", "Authorization", tok)...).expect(t, 200)
		if r.header.Get("Ratelimit-Limit") != "50" || r.header.Get("Ratelimit-Remaining") != "48" {
			t.Fatalf("on another route: %v", r.header)
		}
	})
}

// The declared order, end to end: a client denied by a route's IP rule
// gets 403 whatever its credentials (authentication never ran) and spends
// no rate-limit token; a request that fails authentication spends none
// either.
func TestPolicyChainOrderEndToEnd(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	h := startGateway(t, policyConfig(lib.Addr, `
trusted_proxies: [127.0.0.1]
consumers: [{name: app, keys: [{value: app-key}]}]
policies: {auth: [api_key]}
`, `
    routes:
      - match: "library.v1.LibraryService.GetShelf"
        policies:
          ip: {deny: [203.0.113.0/24]}
          rate_limits: [{name: shelf, key: route, rate: 5, per: 1h}]
`))
	for _, creds := range [][]string{nil, {"X-Api-Key", "app-key"}, {"X-Api-Key", "wrong"}} {
		r := h.do(t, "GET", "/v1/shelves/1", "", append([]string{"X-Forwarded-For", "203.0.113.9"}, creds...)...).expect(t, 403)
		jsonEq(t, r.body, `{"code":7,"message":"client address 203.0.113.9 is denied","details":[]}`)
		if r.header.Get("Www-Authenticate") != "" || r.header.Get("Ratelimit-Remaining") != "" {
			t.Fatalf("an IP-denied request reached authentication or the limiter: %v", r.header)
		}
	}
	r := h.do(t, "GET", "/v1/shelves/1", "", "X-Forwarded-For", "198.51.100.1", "X-Api-Key", "wrong").expect(t, 401)
	jsonEq(t, r.body, `{"code":16,"message":"the API key is not valid","details":[]}`)
	rec.mu.Lock()
	calls := rec.calls
	rec.mu.Unlock()
	if calls != 0 {
		t.Fatalf("%d refused requests reached the backend", calls)
	}
	// The route's bucket (one for every client) is untouched: 5 - 1 left.
	r = h.do(t, "GET", "/v1/shelves/1", "", "X-Forwarded-For", "198.51.100.1", "X-Api-Key", "app-key").expect(t, 200)
	if r.header.Get("Ratelimit-Remaining") != "4" || r.header.Get("Ratelimit-Limit") != "5" {
		t.Fatalf("refused requests spent tokens: %v", r.header)
	}
}

// API keys come from the environment and from files; a reload re-reads
// both (even with the config's bytes unchanged), so replacing a key file
// and reloading rotates the key: the old one is refused, the new one and
// the consumer's other keys keep working.
func TestAPIKeysFromEnvAndFileRotate(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	keyFile := filepath.Join(t.TempDir(), "mobile-key")
	if err := os.WriteFile(keyFile, []byte("file-key-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REFRACT_TEST_MOBILE_KEY", "env-key-1")
	src := &memConfig{}
	src.set(fmt.Sprintf("listen: 127.0.0.1:0\nadmin: off\ndrain_period: 0s\n"+`
consumers:
  - name: mobile
    keys: [{env: REFRACT_TEST_MOBILE_KEY}, {file: %q}]
policies: {auth: [api_key]}
`, keyFile) + libraryConfig(lib.Addr, ""))
	s, _ := runServer(t, src)
	base := "http://" + s.Addr("public")
	eventually(t, 10*time.Second, "routes", func() bool { c, _, _ := fetch("GET", base+"/v1/shelves/1", ""); return c == 401 })

	call := func(key string) (int, string) {
		c, _, body := fetch("GET", base+"/v1/shelves/1", "", "X-Api-Key", key)
		return c, body
	}
	for _, key := range []string{"env-key-1", "file-key-1"} {
		if c, body := call(key); c != 200 {
			t.Fatalf("%s: %d %s", key, c, body)
		}
		if got := rec.lastMD().Get("x-consumer"); len(got) != 1 || got[0] != "mobile" {
			t.Fatalf("%s: x-consumer %v", key, got)
		}
	}
	if err := os.WriteFile(keyFile, []byte("file-key-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c, body := call("file-key-1"); c != 401 || body != `{"code":16,"message":"the API key is not valid","details":[]}` {
		t.Fatalf("the rotated-out key: %d %s", c, body)
	}
	for _, key := range []string{"file-key-2", "env-key-1"} {
		if c, body := call(key); c != 200 {
			t.Fatalf("%s after the rotation: %d %s", key, c, body)
		}
	}
}

// Two gateway instances, each taking requests from several clients at
// once, share one Redis limit: together they admit the limit, ±5 %.
func TestSharedRateLimitTwoGatewaysConcurrent(t *testing.T) {
	const limit, clients, perClient = 200, 4, 60 // 480 requests in all
	addr := policytest.StartRedis(t)
	lib := startLibrary(t)
	cfg := policyConfig(lib.Addr, fmt.Sprintf(`
redis: {addr: %q, timeout: 2s, on_error: closed}
policies:
  rate_limits:
    - {name: shelves, key: route, rate: %d, per: 1h, shared: true}
`, addr, limit), "")
	gateways := []*harness{startGateway(t, cfg), startGateway(t, cfg)}
	var (
		mu                sync.Mutex
		admitted, refused int
		wg                sync.WaitGroup
		unexpected        []string
	)
	for _, h := range gateways {
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perClient {
					c, hdr, body := fetch("GET", h.base+"/v1/shelves", "")
					mu.Lock()
					switch {
					case c == 200:
						admitted++
					case c == 429 && hdr.Get("Retry-After") != "" && hdr.Get("Ratelimit-Remaining") == "0" &&
						hdr.Get("Ratelimit-Limit") == fmt.Sprint(limit):
						refused++
					default:
						unexpected = append(unexpected, fmt.Sprintf("%d %v %s", c, hdr, body))
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("%d unexpected answers, first: %s", len(unexpected), unexpected[0])
	}
	total := len(gateways) * clients * perClient
	if lo, hi := limit*95/100, limit*105/100; admitted < lo || admitted > hi || admitted+refused != total {
		t.Fatalf("two gateways admitted %d of %d (refused %d); want %d ±5 %% (%d–%d)", admitted, total, refused, limit, lo, hi)
	}
	t.Logf("two gateways, %d concurrent clients each, admitted %d of %d against a shared limit of %d", clients, admitted, total, limit)
}

// Every curl of the Policies walkthrough of docs/policies.md, against the example
// config it names, answers what the page shows.
func TestPolicyExampleConfigReadmeWalkthrough(t *testing.T) {
	data, err := os.ReadFile("../examples/refract-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, strings.NewReplacer("127.0.0.1:50051", lib.Addr, "127.0.0.1:50052", echo.Addr).Replace(string(data)))
	consumer := func() string {
		t.Helper()
		got := rec.lastMD().Get("x-consumer")
		if len(got) != 1 {
			t.Fatalf("x-consumer %v", got)
		}
		return got[0]
	}

	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if !strings.Contains(string(r.body), `"name":"shelves/1"`) {
		t.Fatalf("public route: %s", r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 401)
	jsonEq(t, r.body, `{"code":16,"message":"missing credentials: send an API key in the X-Api-Key header (or the api_key query parameter) or a bearer token in the Authorization header","details":[]}`)
	h.do(t, "GET", "/v1/shelves/1", "", "X-Api-Key", "demo-mobile-key").expect(t, 200)
	if c := consumer(); c != "mobile" {
		t.Fatalf("backend saw consumer %q", c)
	}
	h.do(t, "GET", "/v1/shelves/1?api_key=ops-secret", "").expect(t, 200)
	if c := consumer(); c != "ops" {
		t.Fatalf("backend saw consumer %q", c)
	}
	r = h.do(t, "POST", "/v1/shelves", "{}", "X-Api-Key", "demo-mobile-key").expect(t, 403)
	jsonEq(t, r.body, `{"code":7,"message":"consumer \"mobile\" may not call library.v1.LibraryService.CreateShelf","details":[]}`)
	// The config's own header: a delete takes a JWT only.
	r = h.do(t, "DELETE", "/v1/shelves/2", "", "X-Api-Key", "demo-mobile-key").expect(t, 401)
	jsonEq(t, r.body, `{"code":16,"message":"missing credentials: send a bearer token in the Authorization header","details":[]}`)
	r = h.do(t, "OPTIONS", "/v1/shelves", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST").expect(t, 204)
	for k, v := range map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "POST",
		"Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "600"} {
		if r.header.Get(k) != v {
			t.Errorf("preflight %s = %q, want %q", k, r.header.Get(k), v)
		}
	}
	_, body := get(t, h.admin+"/admin/routes")
	for _, want := range []string{`"method": "library.v1.LibraryService.LockBook",` + "\n" + `        "rule": "hide: *.LockBook"`,
		`"method": "echo.v1.EchoService.Chat",` + "\n" + `        "rule": "not in expose"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("/admin/routes lacks %s:\n%s", want, body)
		}
	}
}

// The access log line of a real call through the gateway: every field the
// docs/policies.md lists, the backend endpoint that answered, the consumer and the
// subject, and the request's own id; a backend error is logged at warn
// with its gRPC code.
func TestAccessLogLineEndToEnd(t *testing.T) {
	lib := startLibrary(t)
	h, logs := serveGatewayLog(t, policyConfig(lib.Addr, fmt.Sprintf(`
consumers: [{name: app, keys: [{value: app-key}]}]
jwt: {algorithms: [HS256], hmac_secret: {value: %s}, issuer: "https://id.test", audiences: [refract]}
policies: {auth: [api_key, jwt]}
`, testHMAC), ""))
	body := `{"theme":"Poetry"}`
	r := h.do(t, "POST", "/v1/shelves", body, "X-Api-Key", "app-key", "Authorization", hsToken(t, "user-9"), "X-Request-Id", "req-e2e-1").expect(t, 200)
	r2 := h.do(t, "GET", "/v1/shelves/999", "", "X-Api-Key", "app-key", "X-Request-Id", "req-e2e-2").expect(t, 404)
	lines := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if m["component"] == "access" {
			if _, ok := m["latency_ms"].(float64); !ok {
				t.Fatalf("latency_ms %v", m["latency_ms"])
			}
			delete(m, "latency_ms")
			lines[m["request_id"].(string)] = m
		}
	}
	for id, want := range map[string]map[string]any{
		"req-e2e-1": {"level": "info", "component": "access", "message": "request", "request_id": "req-e2e-1", "http_method": "POST",
			"path": "/v1/shelves", "route": "POST /v1/shelves", "grpc_method": "library.v1.LibraryService.CreateShelf",
			"upstream": "library", "endpoint": lib.Addr, "status": 200.0, "grpc_code": 0.0, "bytes_in": float64(len(body)),
			"bytes_out": float64(len(r.body)), "client_ip": "127.0.0.1", "consumer": "app", "subject": "user-9"},
		"req-e2e-2": {"level": "warn", "component": "access", "message": "request", "request_id": "req-e2e-2", "http_method": "GET",
			"path": "/v1/shelves/999", "route": "GET /v1/{name=shelves/*}", "grpc_method": "library.v1.LibraryService.GetShelf",
			"upstream": "library", "endpoint": lib.Addr, "status": 404.0, "grpc_code": 5.0, "bytes_in": 0.0,
			"bytes_out": float64(len(r2.body)), "client_ip": "127.0.0.1", "consumer": "app", "subject": ""},
	} {
		gb, _ := json.Marshal(lines[id])
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("access line %s\n got %s\nwant %s", id, gb, wb)
		}
	}
	if strings.Contains(logs.String(), "app-key") || strings.Contains(logs.String(), testHMAC) {
		t.Fatal("a credential reached the log")
	}
}

// Routes rebuilt from a new schema get their chains compiled like the
// others: a method a new backend version adds is hidden when a hide rule
// names it (404, listed under hidden), and otherwise is served behind the
// policies already configured (here: an API key).
func TestNewMethodAfterSchemaChangeGetsPolicies(t *testing.T) {
	lib := startLibrary(t)
	addr := lib.Addr
	global := "consumers: [{name: app, keys: [{value: app-key}]}]\npolicies: {auth: [api_key]}\nreflection: {refresh_interval: 1h}\n"
	hiding := startGateway(t, policyConfig(addr, global, "    hide: [\"*.GetServer*\"]\n"))
	open := startGateway(t, policyConfig(addr, global, ""))
	const version = "/library.v1.LibraryService/GetServerVersion"
	for _, h := range []*harness{hiding, open} {
		h.do(t, "GET", "/v1/shelves", "", "X-Api-Key", "app-key").expect(t, 200) // the connection is READY
		h.expectNoRoute(t, "POST", version, `{}`, "X-Api-Key", "app-key")
	}
	lib.Stop()
	v2, err := examples.StartLibraryV2(addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(v2.Stop)
	eventually(t, 15*time.Second, "the v2 schema compiled", func() bool {
		_, body := get(t, hiding.admin+"/admin/routes")
		return strings.Contains(body, `"method": "library.v1.LibraryService.GetServerVersion",`+"\n"+`        "rule": "hide: *.GetServer*"`) &&
			open.do(t, "POST", version, `{}`, "X-Api-Key", "app-key").status == 200
	})
	r := hiding.do(t, "POST", version, `{}`, "X-Api-Key", "app-key").expect(t, 404)
	jsonEq(t, r.body, `{"code":5,"message":"no route for POST /library.v1.LibraryService/GetServerVersion","details":[]}`)
	r = open.do(t, "POST", version, `{}`).expect(t, 401)
	jsonEq(t, r.body, `{"code":16,"message":"missing credentials: send an API key in the X-Api-Key header","details":[]}`)
}

// redis.on_error decides what a shared limit does when Redis cannot be
// reached: closed answers 503 with Retry-After, open (the default) admits.
// Both for a rate limit and for a consumer's shared quota.
func TestRedisOnErrorFromConfig(t *testing.T) {
	lib := startLibrary(t)
	dead := testkit.FreeAddr(t) // nobody listens: every Redis call fails at once
	for _, c := range []struct{ onError, want string }{{"closed", "503"}, {"open", "200"}, {"", "200"}} {
		t.Run("on_error="+c.onError, func(t *testing.T) {
			onError := ""
			if c.onError != "" {
				onError = ", on_error: " + c.onError
			}
			h := startGateway(t, policyConfig(lib.Addr, fmt.Sprintf(`
redis: {addr: %q, timeout: 500ms%s}
consumers: [{name: app, keys: [{value: app-key}], quota: {rate: 10, per: 1h, shared: true}}]
`, dead, onError), `
    routes:
      - match: "GET /v1/shelves"
        policies: {rate_limits: [{name: shared-ip, rate: 10, per: 1h, shared: true}]}
      - match: "library.v1.LibraryService.GetShelf"
        policies: {auth: [api_key]}
`))
			for _, req := range [][]string{{"/v1/shelves"}, {"/v1/shelves/1", "X-Api-Key", "app-key"}} {
				r := h.do(t, "GET", req[0], "", req[1:]...)
				if fmt.Sprint(r.status) != c.want {
					t.Fatalf("%s: %d %s, want %s", req[0], r.status, r.body, c.want)
				}
				if r.status == 503 {
					jsonEq(t, r.body, `{"code":14,"message":"the rate limiter is unavailable; retry shortly","details":[]}`)
					if r.header.Get("Retry-After") != "1" {
						t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
					}
				} else if r.header.Get("Ratelimit-Limit") != "" {
					t.Fatalf("fail-open answer carries limit headers: %v", r.header)
				}
			}
		})
	}
}
