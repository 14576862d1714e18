package policy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testConsumers(t *testing.T) *Consumers {
	t.Helper()
	cs, err := NewConsumers(ConsumersOptions{Query: "api_key", Consumers: []ConsumerOptions{
		{Name: "mobile", KeyHashes: [][32]byte{HashKey("old-key"), HashKey("new-key")}, Allow: []string{"library.v1.LibraryService.Get*"}},
		{Name: "ops", KeyHashes: [][32]byte{HashKey("ops-key")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestAPIKeys(t *testing.T) {
	cs := testConsumers(t)
	var seen *Info
	var query string
	h := Authenticate(AuthOptions{Consumers: cs})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, query = InfoFrom(r.Context()), r.URL.RawQuery
	}))
	for _, key := range []string{"old-key", "new-key"} { // rotation: both keys work
		seen = nil
		if w := serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", key); w.Code != 200 || seen.ConsumerName() != "mobile" {
			t.Fatalf("%s: %d", key, w.Code)
		}
		if strings.Join(seen.Metadata, ",") != "x-consumer,mobile" {
			t.Fatalf("metadata %v", seen.Metadata)
		}
	}
	// The query parameter works and is removed before the request goes on.
	if w := serve(h, "GET", "/v1/x?a=1&api_key=ops-key&b=2", "192.0.2.1:1"); w.Code != 200 || seen.ConsumerName() != "ops" || query != "a=1&b=2" {
		t.Fatalf("query key: %d %q %q", w.Code, seen.ConsumerName(), query)
	}
	w := serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "guess")
	wantStatus(t, w, 401, 16, "the API key is not valid")
	if got := w.Header().Get("WWW-Authenticate"); got != `APIKey realm="refract", header="X-Api-Key"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	wantStatus(t, serve(h, "GET", "/v1/x", "192.0.2.1:1"), 401, 16,
		"missing credentials: send an API key in the X-Api-Key header (or the api_key query parameter)")
}

func TestConsumersValidation(t *testing.T) {
	for _, c := range []struct {
		o    ConsumersOptions
		want string
	}{
		{ConsumersOptions{Consumers: []ConsumerOptions{{Name: "a b", KeyHashes: [][32]byte{HashKey("k")}}}}, `policy: consumer "a b": a name is 1-64 letters, digits, '.', '_' or '-'`},
		{ConsumersOptions{Consumers: []ConsumerOptions{{Name: "a"}}}, `policy: consumer "a" has no API key`},
		{ConsumersOptions{Consumers: []ConsumerOptions{{Name: "a", KeyHashes: [][32]byte{HashKey("k")}}, {Name: "b", KeyHashes: [][32]byte{HashKey("k")}}}}, `policy: consumers "a" and "b" share an API key`},
		{ConsumersOptions{Consumers: []ConsumerOptions{{Name: "a", KeyHashes: [][32]byte{HashKey("k")}}, {Name: "a", KeyHashes: [][32]byte{HashKey("j")}}}}, `policy: consumer "a" is declared twice`},
		{ConsumersOptions{Consumers: []ConsumerOptions{{Name: "a", KeyHashes: [][32]byte{HashKey("k")}, Quota: &Limit{Rate: 1, Period: 1}}}}, `policy: consumer "a": quota without a store`},
	} {
		if _, err := NewConsumers(c.o); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}

func TestAuthorize(t *testing.T) {
	cs := testConsumers(t)
	auth := Authenticate(AuthOptions{Consumers: cs})
	route := func(method string, o AuthzOptions) http.Handler {
		o.Method, o.Upstream, o.Consumers = method, "library", cs
		var s Set
		s.Put(StageAuthenticate, auth)
		s.Put(StageAuthorize, Authorize(o)) // nil when nobody is refused
		return Compile(s, &ok{})
	}
	get := route("library.v1.LibraryService.GetBook", AuthzOptions{})
	del := route("library.v1.LibraryService.DeleteBook", AuthzOptions{})
	if w := serve(get, "GET", "/", "192.0.2.1:1", "X-Api-Key", "new-key"); w.Code != 200 {
		t.Fatalf("allowed method: %d", w.Code)
	}
	wantStatus(t, serve(del, "GET", "/", "192.0.2.1:1", "X-Api-Key", "new-key"), 403, 7,
		`consumer "mobile" may not call library.v1.LibraryService.DeleteBook`)
	if w := serve(del, "GET", "/", "192.0.2.1:1", "X-Api-Key", "ops-key"); w.Code != 200 {
		t.Fatalf("consumer without allow list: %d", w.Code)
	}
	scoped := route("library.v1.LibraryService.DeleteBook", AuthzOptions{Scopes: []string{"books.write"}})
	wantStatus(t, serve(scoped, "GET", "/", "192.0.2.1:1", "X-Api-Key", "ops-key"), 403, 7,
		"library.v1.LibraryService.DeleteBook requires a bearer token (scopes books.write)")

	// Scopes and claims on an authenticated token (Info filled as the JWT
	// stage does; the JWT verifier has tests of its own).
	withToken := func(scopes []string, claims map[string]any) *httptest.ResponseRecorder {
		h := Authorize(AuthzOptions{Method: "m", Scopes: []string{"books.write", "admin"}, Claims: map[string]string{"tenant": "acme"}})(&ok{})
		r := httptest.NewRequest("GET", "/", nil)
		r, info := withInfo(r)
		info.scopes, info.claims = scopes, claims
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	wantStatus(t, withToken([]string{"books.write"}, map[string]any{"tenant": "acme"}), 403, 7, "the token lacks the scope(s) admin required by m")
	wantStatus(t, withToken([]string{"admin", "books.write"}, map[string]any{"tenant": "other"}), 403, 7, `the token's claim "tenant" must be "acme" to call m`)
	if w := withToken([]string{"admin", "books.write"}, map[string]any{"tenant": []any{"x", "acme"}}); w.Code != 200 {
		t.Fatalf("all scopes and an array claim: %d %s", w.Code, w.Body)
	}
	if Authorize(AuthzOptions{Method: "m"}) != nil {
		t.Fatal("nothing to check is not nil")
	}
}

// TestCredentialsAndKeepVerified: authentication records
// what it verified, and KeepVerified leaves exactly that under a
// credential key.
func TestCredentialsAndKeepVerified(t *testing.T) {
	var seen *Info
	h := Authenticate(AuthOptions{Consumers: testConsumers(t)})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = InfoFrom(r.Context())
	}))
	r := httptest.NewRequest("GET", "/v1/x", nil)
	r.Header.Set("X-Api-Key", "ops-key")
	r.Header.Set("Authorization", "Bearer unchecked")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen == nil {
		t.Fatal("a valid key was refused")
	}
	if authn, bearer, key := seen.Credentials(); !authn || bearer != "" || key != "ops-key" {
		t.Fatalf("Credentials() = %v, %q, %q; want true, \"\", ops-key", authn, bearer, key)
	}
	if authn, _, _ := (&Info{}).Credentials(); authn {
		t.Fatal("a request no authentication passed reports authenticated")
	}
	md := map[string][]string{"authorization": {"Bearer unchecked"}, "x-api-key": {"forged", "ops-key"}, "other": {"v"}}
	KeepVerified(md, "authorization", "")
	KeepVerified(md, "x-api-key", "ops-key")
	KeepVerified(md, "absent", "x")
	if len(md) != 2 || strings.Join(md["x-api-key"], ",") != "ops-key" || md["other"][0] != "v" {
		t.Fatalf("KeepVerified left %v", md)
	}
	md = map[string][]string{"x-api-key": {"forged"}}
	if KeepVerified(md, "x-api-key", "ops-key"); len(md) != 0 {
		t.Fatalf("a value never verified stayed: %v", md)
	}
}

// Failed authentications are limited per client network: each 401 takes a
// token, a success none, and while the bucket is empty even a valid key is
// refused before it is checked.
func TestAuthFailuresLimitGuessing(t *testing.T) {
	c := newClock()
	f := &AuthFailures{Name: "policies.auth_failures", Limit: Limit{Rate: 2, Period: time.Minute}, Store: NewLocalLimiter(time.Minute, c.now)}
	if err := f.Validate(); err != nil || f.Limit.Burst != 2 {
		t.Fatalf("validate: %v burst %d", err, f.Limit.Burst)
	}
	h := Authenticate(AuthOptions{Consumers: testConsumers(t), Failures: f})(&ok{})
	for range 3 { // successes spend nothing
		if w := serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "ops-key"); w.Code != 200 {
			t.Fatalf("valid key: %d %s", w.Code, w.Body)
		}
	}
	wantStatus(t, serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "guess-1"), 401, 16, "the API key is not valid")
	wantStatus(t, serve(h, "GET", "/v1/x", "192.0.2.1:1"), 401, 16, // a missing credential counts too
		"missing credentials: send an API key in the X-Api-Key header (or the api_key query parameter)")
	const blocked = "too many failed authentications from this client network (policies.auth_failures: 2 per 1m0s); no credential is checked until you retry after 30s"
	for _, key := range []string{"guess-2", "ops-key"} {
		w := serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", key)
		wantStatus(t, w, 429, 8, blocked)
		if hdr(w, "Retry-After") != "30" {
			t.Fatalf("%s: Retry-After %q", key, hdr(w, "Retry-After"))
		}
	}
	// The client's /64, not its address, is the key; other networks go on.
	v6 := Authenticate(AuthOptions{Consumers: testConsumers(t), Failures: f})(&ok{})
	wantStatus(t, serve(v6, "GET", "/v1/x", "[2001:db8::1]:1", "X-Api-Key", "g"), 401, 16, "the API key is not valid")
	wantStatus(t, serve(v6, "GET", "/v1/x", "[2001:db8::2]:1", "X-Api-Key", "g"), 401, 16, "the API key is not valid")
	wantStatus(t, serve(v6, "GET", "/v1/x", "[2001:db8::3]:1", "X-Api-Key", "ops-key"), 429, 8, blocked)
	if w := serve(h, "GET", "/v1/x", "192.0.2.2:1", "X-Api-Key", "ops-key"); w.Code != 200 {
		t.Fatalf("another client: %d %s", w.Code, w.Body)
	}
	// A token is back after per/rate: one more try.
	c.add(30 * time.Second)
	if w := serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "ops-key"); w.Code != 200 {
		t.Fatalf("after refill: %d %s", w.Code, w.Body)
	}
	wantStatus(t, serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "guess-3"), 401, 16, "the API key is not valid")
	wantStatus(t, serve(h, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "ops-key"), 429, 8, blocked)

	// A store that fails: fail-open checks credentials, fail-closed 503.
	open := Authenticate(AuthOptions{Consumers: testConsumers(t), Failures: &AuthFailures{Name: "a", Limit: f.Limit, Store: failing{}, FailOpen: true}})(&ok{})
	if w := serve(open, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "ops-key"); w.Code != 200 {
		t.Fatalf("fail-open: %d", w.Code)
	}
	closed := Authenticate(AuthOptions{Consumers: testConsumers(t), Failures: &AuthFailures{Name: "a", Limit: f.Limit, Store: failing{}}})(&ok{})
	wantStatus(t, serve(closed, "GET", "/v1/x", "192.0.2.1:1", "X-Api-Key", "ops-key"), 503, 14, "the rate limiter is unavailable; retry shortly")
}
