package policy

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// tracer is a policy that records its name when it runs.
func tracer(name string, log *[]string) Policy {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*log = append(*log, name)
			next.ServeHTTP(w, r)
		})
	}
}

func TestCompileRunsStagesInDeclaredOrder(t *testing.T) {
	var log []string
	var s Set
	// Put in reverse: the order comes from the stages, not from Put.
	order := Order()
	for i := len(order) - 1; i >= 0; i-- {
		s.Put(order[i], tracer(order[i].String(), &log))
	}
	final := &ok{}
	serve(Compile(s, final), "GET", "/", "192.0.2.1:1")
	want := []string{"recover", "request_id", "access_log", "client_ip", "ip_filter", "cors",
		"guard", "size_limit", "authenticate", "authorize", "rate_limit", "ext_authz", "checks"}
	if !reflect.DeepEqual(log, want) || final.calls != 1 {
		t.Fatalf("ran %v (final %d), want %v", log, final.calls, want)
	}
	if got := len(s.Stages()); got != len(want) {
		t.Fatalf("Stages() has %d", got)
	}
	s.Put(StageCORS, nil)
	if s.Get(StageCORS) != nil || len(s.Stages()) != len(want)-1 {
		t.Fatal("Put(nil) did not remove the stage")
	}
}

// A request denied by IP never reaches authentication and never touches a
// rate-limit bucket; an admitted one goes through both.
func TestChainOrderIPDenialStopsEarly(t *testing.T) {
	var log []string
	deny, _ := ParsePrefixes([]string{"203.0.113.0/24"})
	cs, err := NewConsumers(ConsumersOptions{Consumers: []ConsumerOptions{{Name: "app", KeyHashes: [][32]byte{HashKey("k1")}}}})
	if err != nil {
		t.Fatal(err)
	}
	store := NewLocalLimiter(0, nil)
	rl := must(RateLimit(RateLimitOptions{Route: "GET /", Rules: []Rule{{Name: "ip", By: ByIP, Limit: Limit{Rate: 5, Period: 3600e9}, Store: store}}}))
	var s Set
	s.Put(StageIPFilter, IPFilter(nil, deny))
	s.Put(StageAuthenticate, Then(tracer("auth", &log), Authenticate(AuthOptions{Consumers: cs})))
	s.Put(StageRateLimit, Then(tracer("ratelimit", &log), rl))
	final := &ok{}
	h := Compile(s, final)

	for range 3 {
		wantStatus(t, serve(h, "GET", "/", "203.0.113.9:4000", "X-Api-Key", "k1"), 403, 7, "client address 203.0.113.9 is denied")
	}
	if len(log) != 0 || store.Len() != 0 || final.calls != 0 {
		t.Fatalf("denied requests reached %v, %d buckets, %d calls", log, store.Len(), final.calls)
	}
	w := serve(h, "GET", "/", "198.51.100.7:4000", "X-Api-Key", "k1")
	if w.Code != 200 || !reflect.DeepEqual(log, []string{"auth", "ratelimit"}) || store.Len() != 1 {
		t.Fatalf("admitted request: %d, ran %v, %d buckets", w.Code, log, store.Len())
	}
	// A bad key stops at authentication: no bucket is spent.
	wantStatus(t, serve(h, "GET", "/", "198.51.100.8:4000", "X-Api-Key", "nope"), 401, 16, "the API key is not valid")
	if store.Len() != 1 {
		t.Fatalf("an unauthenticated request made a bucket: %d", store.Len())
	}
	if got := serve(h, "GET", "/", "198.51.100.7:4000", "X-Api-Key", "k1").Header().Get("RateLimit-Remaining"); got != "3" {
		t.Fatalf("RateLimit-Remaining %q after 2 of 5", got)
	}
}

func TestThen(t *testing.T) {
	var log []string
	if Then(nil, nil) != nil {
		t.Fatal("Then of nils is not nil")
	}
	h := Then(tracer("a", &log), nil, tracer("b", &log))(&ok{})
	serve(h, "GET", "/", "192.0.2.1:1")
	if !reflect.DeepEqual(log, []string{"a", "b"}) {
		t.Fatalf("ran %v", log)
	}
}

// Marked records, in the request's Info, the last refusing stage a
// request entered: the one that answered it when it stopped there, and
// none for the stages that never refuse.
func TestMarkedRecordsTheStageEntered(t *testing.T) {
	stop := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })
	}
	pass := func(next http.Handler) http.Handler { return next }
	var seen Stage = -1
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = InfoFrom(r.Context()).Stage })
	for _, tc := range []struct {
		name string
		set  func() Set
		want Stage
	}{
		{"refused by the IP filter", func() Set {
			var s Set
			s.Put(StageRequestID, pass)
			s.Put(StageIPFilter, stop)
			s.Put(StageRateLimit, pass)
			return s
		}, StageIPFilter},
		{"passed every stage: the last refusing one", func() Set {
			var s Set
			s.Put(StageIPFilter, pass)
			s.Put(StageRateLimit, pass)
			return s
		}, StageRateLimit},
	} {
		seen = -1
		var got Stage = -1
		h := State()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			Compile(tc.set().Marked(), final).ServeHTTP(w, r)
			got = InfoFrom(r.Context()).Stage
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if got != tc.want {
			t.Errorf("%s: Info.Stage %v, want %v (final saw %v)", tc.name, got, tc.want, seen)
		}
	}
	if StageRequestID.Refuses() || StageClientIP.Refuses() || !StageIPFilter.Refuses() || !StageRateLimit.Refuses() {
		t.Error("Refuses: only the stages from the IP filter on may refuse")
	}
}
