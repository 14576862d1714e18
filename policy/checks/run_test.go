package checks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/checks"
	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests: every check
// goroutine must end with its request.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// outcomes records what each check reported (the metrics hooks).
type outcomes struct {
	mu  sync.Mutex
	got []string
	// reported, when set, is told each check that reported.
	reported func(name string)
}

func (o *outcomes) Check(name string) checks.CheckObserver { return observed{o, name} }

type observed struct {
	o    *outcomes
	name string
}

func (c observed) Decided(out checks.Outcome, _ time.Duration) {
	c.o.mu.Lock()
	c.o.got = append(c.o.got, c.name+"="+out.String())
	c.o.mu.Unlock()
	if c.o.reported != nil {
		c.o.reported(c.name)
	}
}

func (o *outcomes) sorted() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := slices.Clone(o.got)
	slices.Sort(s)
	return strings.Join(s, " ")
}

// service is a check service on loopback answering with h.
func service(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newCheck(t testing.TB, name, url string, failOpen bool, timeout time.Duration, obs checks.Observer, vouch ...string) *checks.Check {
	t.Helper()
	az, err := policy.NewExtAuthz(policy.ExtAuthzOptions{HTTPURL: url, UpstreamHeaders: vouch, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	c, err := checks.New(checks.Options{Name: name, Authorizer: az, FailOpen: failOpen, Vouches: vouch, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// chain is State → a stand-in for authentication setting x-user → the
// checks → a handler recording the metadata it was handed.
func chain(cs []*checks.Check, md *[]string) http.Handler {
	var set policy.Set
	set.Put(policy.StageAuthenticate, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := policy.InfoFrom(r.Context())
			info.Metadata = append(info.Metadata, "x-user", "alice")
			next.ServeHTTP(w, r)
		})
	})
	set.Put(policy.StageChecks, checks.Policy(cs, "GET /v1/things", "things.v1.Things.Get", "things"))
	return policy.State()(policy.Compile(set, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*md = slices.Clone(policy.InfoFrom(r.Context()).Metadata)
		_, _ = w.Write([]byte("ok"))
	})))
}

func TestPolicyWithoutChecksIsNil(t *testing.T) {
	if checks.Policy(nil, "r", "m", "u") != nil {
		t.Fatal("no checks must add no stage")
	}
}

// Metadata is merged in the checks' declared order, and the first value
// of a key stands: authentication's x-user, then the first check's
// x-score.
func TestMergeDeclaredOrderFirstValueWins(t *testing.T) {
	a := service(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Score", "1")
		w.Header().Set("X-User", "mallory")
	})
	b := service(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("X-Score", "2")
		w.Header().Set("X-Tier", "gold")
	})
	obs := &outcomes{}
	var md []string
	h := chain([]*checks.Check{
		newCheck(t, "a", a, false, time.Second, obs, "X-Score", "X-User"),
		newCheck(t, "b", b, false, time.Second, obs, "X-Score", "X-Tier"),
	}, &md)
	r := httptest.NewRequest("GET", "/v1/things", nil)
	r.Header.Set("X-Tier", "platinum") // the client's own: dropped
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if want := []string{"x-user", "alice", "x-score", "1", "x-tier", "gold"}; !slices.Equal(md, want) {
		t.Fatalf("metadata %q, want %q", md, want)
	}
	if got := obs.sorted(); got != "a=allowed b=allowed" {
		t.Fatalf("outcomes %s", got)
	}
}

// A denial answers 403 with the check's name, cancelling the other; a
// failing fail-open check is ignored.
func TestDenyCancelsAndFailOpenIsIgnored(t *testing.T) {
	slowIn := make(chan struct{})
	slow := service(t, func(_ http.ResponseWriter, r *http.Request) {
		close(slowIn)
		<-r.Context().Done()
	})
	brokenDone := make(chan struct{})
	deny := service(t, func(w http.ResponseWriter, _ *http.Request) {
		// Deny once the slow check is in flight and the broken one has
		// failed, so each has its outcome to report.
		<-slowIn
		<-brokenDone
		http.Error(w, "internal rule 42", http.StatusTeapot)
	})
	broken := service(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	obs := &outcomes{reported: func(name string) {
		if name == "broken" {
			close(brokenDone)
		}
	}}
	var md []string
	h := chain([]*checks.Check{
		newCheck(t, "slow", slow, false, time.Minute, obs),
		newCheck(t, "broken", broken, true, time.Minute, obs),
		newCheck(t, "deny", deny, false, time.Minute, obs),
	}, &md)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/things", nil))
	var st struct {
		Code    int
		Message string
		Details []map[string]any
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 403 || st.Code != 7 ||
		st.Message != "the request was denied by the deny check" || strings.Contains(w.Body.String(), "42") ||
		st.Details[0]["reason"] != "CHECK_DENIED" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// The stage returned after every check ended: the slow one was
	// cancelled, and all three reported.
	if got := obs.sorted(); got != "broken=failed_open deny=denied slow=cancelled" {
		t.Fatalf("outcomes %s", got)
	}
	if md != nil {
		t.Fatal("a denied request reached the handler")
	}
}

// A client that leaves while the checks run gets them cancelled, and the
// request is answered 499 without reaching the handler.
func TestClientGoneCancelsChecks(t *testing.T) {
	in := make(chan struct{})
	slow := service(t, func(_ http.ResponseWriter, r *http.Request) {
		close(in)
		<-r.Context().Done()
	})
	obs := &outcomes{}
	var md []string
	h := chain([]*checks.Check{newCheck(t, "slow", slow, true, time.Minute, obs)}, &md)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-in; cancel() }()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/things", nil).WithContext(ctx))
	if w.Code != 499 || md != nil || obs.sorted() != "slow=cancelled" {
		t.Fatalf("%d %s md=%v outcomes %s", w.Code, w.Body, md, obs.sorted())
	}
}

func TestNewRefuses(t *testing.T) {
	az, err := policy.NewExtAuthz(policy.ExtAuthzOptions{HTTPURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []checks.Options{{Name: "", Authorizer: az}, {Name: "a b", Authorizer: az},
		{Name: strings.Repeat("x", 65), Authorizer: az}, {Name: "ok"}} {
		if _, err := checks.New(o); err == nil {
			t.Errorf("New(%q) accepted", o.Name)
		}
	}
}
