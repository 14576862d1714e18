package policy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

// TestCredentialsAndKeepVerified (issue 17 #4): authentication records
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
