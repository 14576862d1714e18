package reflection_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/refract-gateway/refract/reflection"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// event is one subscriber call.
type event struct {
	upstream string
	snap     *reflection.Snapshot
}

// recorder subscribes to a cache and keeps every call.
type recorder struct {
	mu     sync.Mutex
	events []event
	ch     chan event
}

func record(c *reflection.Cache) *recorder {
	r := &recorder{ch: make(chan event, 100)}
	c.Subscribe(func(upstream string, snap *reflection.Snapshot) {
		r.mu.Lock()
		r.events = append(r.events, event{upstream, snap})
		r.mu.Unlock()
		r.ch <- event{upstream, snap}
	})
	return r
}

func (r *recorder) next(t *testing.T, timeout time.Duration) event {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(timeout):
		t.Fatalf("no subscriber call within %v", timeout)
		return event{}
	}
}

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func stats(t *testing.T, c *reflection.Cache, name string) reflection.Stats {
	t.Helper()
	for _, s := range c.Stats() {
		if s.Upstream == name {
			return s
		}
	}
	t.Fatalf("no stats for %q", name)
	return reflection.Stats{}
}

func TestCacheDownAtStartThenUp(t *testing.T) {
	addr := testkit.FreeAddr(t) // nothing listens there yet
	c := newCache(t, reflection.Options{
		RetryMin:        40 * time.Millisecond,
		RetryMax:        time.Second,
		RefreshInterval: time.Hour,
	})
	rec := record(c)
	gate := make(chan struct{})
	if err := c.Add("library", gatedConn{ClientConnInterface: dial(t, addr), gate: gate}); err != nil {
		t.Fatal(err)
	}

	// Before any fetch finishes: pending, no snapshot.
	if st := stats(t, c, "library"); st.State != reflection.StatePending || st.Refreshes != 0 {
		t.Fatalf("before the first fetch: %+v, want pending", st)
	}
	if c.Snapshot("library") != nil {
		t.Fatal("snapshot before the first fetch")
	}
	close(gate)

	// Failing: failed state, retries spaced by a growing backoff.
	var errorTimes []time.Time
	testkit.Eventually(t, 5*time.Second, "four failed fetches", func() bool {
		st := stats(t, c, "library")
		if n := len(errorTimes); !st.LastErrorAt.IsZero() && (n == 0 || !st.LastErrorAt.Equal(errorTimes[n-1])) {
			errorTimes = append(errorTimes, st.LastErrorAt)
		}
		return st.Failures >= 4
	})
	st := stats(t, c, "library")
	if st.State != reflection.StateFailed || c.Snapshot("library") != nil {
		t.Fatalf("while down: %+v, want failed without snapshot", st)
	}
	if !strings.HasPrefix(st.LastError, `reflection: upstream "library": list services: upstream unreachable: `) {
		t.Errorf("LastError = %q", st.LastError)
	}
	// Gaps: 40ms, 80ms, 160ms ±20%, plus the failing fetch itself, whose
	// time a loaded machine stretches: so only the lower bounds are sure,
	// and they grow — no hot loop.
	if len(errorTimes) < 4 {
		t.Fatalf("saw %d distinct failures, want 4", len(errorTimes))
	}
	for i := 1; i < 4; i++ {
		gap, least := errorTimes[i].Sub(errorTimes[i-1]), time.Duration(float64(40*time.Millisecond<<(i-1))*0.8)
		if gap < least {
			t.Errorf("retry %d after %v, want ≥ %v (backoff 40ms doubling, -20%% jitter)", i, gap, least)
		}
	}

	// The backend comes up: the next retry gets it.
	srv := libraryServer(t, schemaOpts{}, serverConfig{addr: addr})
	ev := rec.next(t, 5*time.Second)
	if ev.upstream != "library" || ev.snap == nil || ev.snap.Upstream != "library" {
		t.Fatalf("notification = %+v", ev)
	}
	if got := c.Snapshot("library"); got != ev.snap {
		t.Errorf("Snapshot = %p, want the notified %p", got, ev.snap)
	}
	st = stats(t, c, "library")
	if st.State != reflection.StateReady || st.Hash != ev.snap.Hash || st.Endpoint != srv.addr ||
		st.Methods != 1 || len(st.Services) != 1 || st.Services[0] != librarySvc ||
		st.Refreshes != st.Failures+1 || st.FetchDuration <= 0 || st.FetchedAt.IsZero() {
		t.Errorf("after recovery: %+v", st)
	}
	if st.LastError == "" {
		t.Error("LastError cleared by the recovery; it should be kept")
	}
}

func TestCacheFollowsRestartWithNewSchema(t *testing.T) {
	srvA := libraryServer(t, schemaOpts{version: 1}, serverConfig{})
	addr := srvA.addr
	c := newCache(t, reflection.Options{
		RefreshInterval: 50 * time.Millisecond,
		RetryMin:        10 * time.Millisecond,
		RetryMax:        50 * time.Millisecond,
	})
	rec := record(c)
	if err := c.Add("library", dial(t, addr)); err != nil {
		t.Fatal(err)
	}
	first := rec.next(t, 5*time.Second).snap
	if first.Method(librarySvc+".ListBooks") != nil {
		t.Fatal("v1 schema already has ListBooks")
	}
	// Periodic refreshes of an unchanged schema notify nobody.
	testkit.Eventually(t, 5*time.Second, "three more refreshes", func() bool { return stats(t, c, "library").Refreshes >= 4 })
	if got := c.Snapshot("library"); got != first {
		t.Error("an unchanged hash replaced the snapshot")
	}

	// Redeploy: the backend goes away and comes back with a new schema.
	srvA.stop()
	libraryServer(t, schemaOpts{version: 2}, serverConfig{addr: addr})
	second := rec.next(t, 5*time.Second)
	if second.snap == nil || second.snap.Hash == first.Hash {
		t.Fatalf("second notification = %+v, want a new hash", second)
	}
	md := second.snap.Method(librarySvc + ".ListBooks")
	if md == nil || md.Output().FullName() != libraryPkg+".ListBooksResponse" {
		t.Fatalf("ListBooks not resolvable in the new snapshot: %v", md)
	}
	if _, err := second.snap.Files.FindDescriptorByName(libraryPkg + ".ListBooksRequest"); err != nil {
		t.Errorf("new message not in Files: %v", err)
	}
	if got := c.Snapshot("library"); got != second.snap {
		t.Error("Snapshot does not return the new set")
	}
	// Let more periodic refreshes happen: still exactly two notifications.
	n := stats(t, c, "library").Refreshes
	testkit.Eventually(t, 5*time.Second, "more refreshes", func() bool { return stats(t, c, "library").Refreshes >= n+3 })
	if events := rec.all(); len(events) != 2 {
		t.Errorf("got %d notifications, want 2 (one per hash): %+v", len(events), events)
	}
}

func TestCacheEndpointsChanged(t *testing.T) {
	srvA := libraryServer(t, schemaOpts{version: 1}, serverConfig{})
	srvB := libraryServer(t, schemaOpts{version: 2}, serverConfig{})
	r := manual.NewBuilderWithScheme("test")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: srvA.addr}}})
	conn, err := grpc.NewClient("test:///library", grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	c := newCache(t, reflection.Options{
		RefreshInterval: time.Hour, // only the endpoint change may trigger the refresh
		EndpointSettle:  20 * time.Millisecond,
		RetryMin:        10 * time.Millisecond,
		RetryMax:        50 * time.Millisecond,
	})
	rec := record(c)
	if err := c.Add("library", conn); err != nil {
		t.Fatal(err)
	}
	first := rec.next(t, 5*time.Second).snap
	if first.Endpoint != srvA.addr {
		t.Fatalf("endpoint = %q, want %q", first.Endpoint, srvA.addr)
	}

	// A new instance with a new schema replaces the old one.
	srvA.stop()
	r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: srvB.addr}}})
	for range 5 {
		c.EndpointsChanged("library") // bursts collapse
	}
	second := rec.next(t, 5*time.Second).snap
	if second == nil || second.Hash == first.Hash || second.Endpoint != srvB.addr {
		t.Fatalf("after the change: %+v", second)
	}
	if second.Method(librarySvc+".ListBooks") == nil {
		t.Error("new method not resolvable")
	}
	if got := srvB.streams.Load(); got != 1 {
		t.Errorf("new backend saw %d reflection streams, want 1 (collapsed)", got)
	}
}

func TestCacheConcurrentRefreshesCollapse(t *testing.T) {
	gate := make(chan struct{})
	srv := libraryServer(t, schemaOpts{}, serverConfig{gate: gate})
	c := newCache(t, reflection.Options{RefreshInterval: time.Hour})
	if err := c.Add("library", dial(t, srv.addr)); err != nil {
		t.Fatal(err)
	}
	// The background fetch of Add is in flight, held by the server.
	testkit.Eventually(t, 5*time.Second, "the first stream", func() bool { return srv.streams.Load() == 1 })

	const callers = 8
	type result struct {
		snap *reflection.Snapshot
		err  error
	}
	results := make(chan result, callers)
	for range callers {
		go func() {
			snap, err := c.Refresh(context.Background(), "library")
			results <- result{snap, err}
		}()
	}
	testkit.Eventually(t, 5*time.Second, "every caller to join the fetch", func() bool {
		return reflection.FetchWaiters(c, "library") == callers+1
	})
	close(gate)

	var first *reflection.Snapshot
	for range callers {
		r := <-results
		if r.err != nil {
			t.Fatalf("Refresh: %v", r.err)
		}
		if first == nil {
			first = r.snap
		}
		if r.snap != first || r.snap == nil {
			t.Errorf("callers got different snapshots: %p vs %p", r.snap, first)
		}
	}
	if got := srv.streams.Load(); got != 1 {
		t.Errorf("server saw %d reflection streams, want 1", got)
	}
	if st := stats(t, c, "library"); st.Refreshes != 1 {
		t.Errorf("Refreshes = %d, want 1", st.Refreshes)
	}
}

func TestCacheRequestRefreshRateLimited(t *testing.T) {
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	c := newCache(t, reflection.Options{RefreshInterval: time.Hour, OnDemandInterval: 400 * time.Millisecond})
	if err := c.Add("library", dial(t, srv.addr)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "ready", func() bool { return c.Snapshot("library") != nil })
	base := stats(t, c, "library").Refreshes // 1

	// Bursts of requests within one interval: one fetch at once, and one
	// more at the end of the interval for the requests that came during it.
	start := time.Now()
	for range 20 {
		c.RequestRefresh("library", "UNIMPLEMENTED for /test.library.v1.Library/GetBook")
	}
	testkit.Eventually(t, 2*time.Second, "the on-demand fetch", func() bool { return stats(t, c, "library").Refreshes >= base+1 })
	for range 20 {
		c.RequestRefresh("library", "again")
	}
	last := time.Now()
	testkit.Eventually(t, 3*time.Second, "the deferred fetch", func() bool { return stats(t, c, "library").Refreshes >= base+2 })
	if waited := time.Since(start); waited < 350*time.Millisecond {
		t.Errorf("deferred fetch after %v, want ≥ OnDemandInterval (400ms)", waited)
	}
	time.Sleep(800 * time.Millisecond)
	// The contract is a rate, not a count: one fetch at once, then at most
	// one per interval while requests come, and one deferred after the
	// last. On a loaded machine the bursts can straddle an interval
	// boundary, which may legitimately add one fetch; the quiet 800ms after
	// the last request adds none.
	got := stats(t, c, "library").Refreshes
	if limit := base + 2 + uint64(last.Sub(start)/(400*time.Millisecond)); got > limit {
		t.Errorf("Refreshes = %d, want at most %d: 40 requests in %v must not fetch more than once per interval", got, limit, last.Sub(start))
	}
	if streams := srv.streams.Load(); streams != int32(got) {
		t.Errorf("server saw %d streams, cache counted %d refreshes", streams, got)
	}
}

func TestCacheStaleKeepsLastGood(t *testing.T) {
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	logs := &testkit.SyncBuffer{}
	c := newCache(t, reflection.Options{
		RefreshInterval: time.Hour, RetryMin: time.Hour, RetryMax: time.Hour,
		Logger: zerolog.New(logs).Level(zerolog.InfoLevel),
	})
	if err := c.Add("library", dial(t, srv.addr)); err != nil {
		t.Fatal(err)
	}
	good, err := c.Refresh(context.Background(), "library")
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()
	snap, err := c.Refresh(context.Background(), "library")
	if err == nil || snap != nil {
		t.Fatalf("Refresh of a stopped backend = %v, %v; want nil and an error", snap, err)
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code = %v, want Unavailable", status.Code(err))
	}
	if got := c.Snapshot("library"); got != good {
		t.Error("a failed refresh dropped the last good set")
	}
	st := stats(t, c, "library")
	if st.State != reflection.StateStale || st.Hash != good.Hash || st.LastError != err.Error() {
		t.Errorf("stats = %+v, want stale with the good hash and the error", st)
	}
	// State transitions are logged once each, at info and warn.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 ||
		!strings.Contains(lines[0], `"level":"info","component":"reflection","upstream":"library","hash":"`+good.Hash+`"`) ||
		!strings.Contains(lines[0], `"message":"descriptors changed"`) ||
		!strings.Contains(lines[1], `"level":"warn","component":"reflection","upstream":"library","state":"stale","consecutive_failures":1,"error":"reflection: upstream \"library\": list services: upstream unreachable: `) ||
		!strings.Contains(lines[1], `"message":"reflection fetch failed"`) {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestCacheRemoveAndReAdd(t *testing.T) {
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	conn := dial(t, srv.addr)
	c := newCache(t, reflection.Options{RefreshInterval: time.Hour})
	rec := record(c)
	if err := c.Add("library", conn); err != nil {
		t.Fatal(err)
	}
	if ev := rec.next(t, 5*time.Second); ev.snap == nil {
		t.Fatal("no snapshot")
	}
	c.Remove("library")
	if ev := rec.next(t, 5*time.Second); ev.upstream != "library" || ev.snap != nil {
		t.Fatalf("after Remove: %+v, want (library, nil)", ev)
	}
	if c.Snapshot("library") != nil || len(c.Stats()) != 0 {
		t.Error("removed upstream still visible")
	}
	if _, err := c.Refresh(context.Background(), "library"); !errors.Is(err, reflection.ErrUnknownUpstream) || status.Code(err) != codes.NotFound {
		t.Errorf("Refresh after Remove: %v", err)
	}
	c.Remove("library") // idempotent
	c.RequestRefresh("nope", "x")
	c.EndpointsChanged("nope")

	if err := c.Add("library", conn); err != nil {
		t.Fatalf("re-Add: %v", err)
	}
	if ev := rec.next(t, 5*time.Second); ev.snap == nil {
		t.Fatal("no snapshot after re-Add")
	}
}

func TestCacheLateSubscriberAndUnsubscribe(t *testing.T) {
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	c := newCache(t, reflection.Options{RefreshInterval: time.Hour})
	for _, name := range []string{"b", "a"} {
		if err := c.Add(name, dial(t, srv.addr)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "both ready", func() bool { return c.Snapshot("a") != nil && c.Snapshot("b") != nil })
	if st := c.Stats(); len(st) != 2 || st[0].Upstream != "a" || st[1].Upstream != "b" {
		t.Errorf("Stats not sorted by name: %+v", st)
	}

	// A late subscriber is told the current sets first, in name order.
	rec := record(c)
	for _, want := range []string{"a", "b"} {
		if ev := rec.next(t, 5*time.Second); ev.upstream != want || ev.snap != c.Snapshot(want) {
			t.Errorf("seed = %+v, want %s", ev, want)
		}
	}

	calls := make(chan string, 10)
	unsubscribe := c.Subscribe(func(name string, _ *reflection.Snapshot) { calls <- name })
	<-calls
	<-calls
	unsubscribe()
	unsubscribe()
	c.Remove("a")
	if ev := rec.next(t, 5*time.Second); ev.upstream != "a" || ev.snap != nil {
		t.Errorf("remaining subscriber: %+v", ev)
	}
	select {
	case name := <-calls:
		t.Errorf("unsubscribed callback called for %q", name)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestCacheErrors(t *testing.T) {
	if _, err := reflection.NewCache(reflection.Options{RetryMin: -time.Second}); err == nil || !strings.HasPrefix(err.Error(), "reflection: options: RetryMin") {
		t.Errorf("negative RetryMin: %v", err)
	}
	if _, err := reflection.NewCache(reflection.Options{RetryMin: time.Minute, RetryMax: time.Second}); err == nil {
		t.Error("RetryMin > RetryMax accepted")
	}
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	conn := dial(t, srv.addr)
	c, err := reflection.NewCache(reflection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Add("", conn); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty name: %v", err)
	}
	if err := c.Add("x", nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("nil conn: %v", err)
	}
	if err := c.Add("library", conn); err != nil {
		t.Fatal(err)
	}
	err = c.Add("library", conn)
	if !errors.Is(err, reflection.ErrUpstreamExists) || status.Code(err) != codes.AlreadyExists ||
		err.Error() != `reflection: upstream "library": add: upstream already added` {
		t.Errorf("duplicate Add: %v", err)
	}
	if _, err := c.Refresh(context.Background(), "nope"); err == nil ||
		err.Error() != `reflection: upstream "nope": refresh: unknown upstream` {
		t.Errorf("unknown Refresh: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Refresh(ctx, "library"); status.Code(err) != codes.Canceled {
		t.Errorf("Refresh with a canceled ctx: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Add("other", conn); !errors.Is(err, reflection.ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if c.Snapshot("library") != nil || len(c.Stats()) != 0 {
		t.Error("state visible after Close")
	}
	c.Subscribe(func(string, *reflection.Snapshot) { t.Error("called after Close") })()
}

func TestCacheCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	gate := make(chan struct{})
	held := libraryServer(t, schemaOpts{}, serverConfig{gate: gate}) // fetches hang here
	ok := libraryServer(t, schemaOpts{}, serverConfig{})
	connHeld, connOK := dial(t, held.addr), dial(t, ok.addr)
	down := dial(t, testkit.FreeAddr(t))

	c, err := reflection.NewCache(reflection.Options{RetryMin: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	for name, conn := range map[string]grpc.ClientConnInterface{"held": connHeld, "ok": connOK, "down": down} {
		if err := c.Add(name, conn); err != nil {
			t.Fatal(err)
		}
	}
	rec.next(t, 5*time.Second) // "ok" is ready
	testkit.Eventually(t, 5*time.Second, "the held fetch", func() bool { return held.streams.Load() >= 1 })
	refreshErr := make(chan error, 1)
	go func() {
		_, err := c.Refresh(context.Background(), "held")
		refreshErr <- err
	}()
	testkit.Eventually(t, 5*time.Second, "Refresh to join", func() bool { return reflection.FetchWaiters(c, "held") == 2 })
	snap := c.Snapshot("ok")
	// A lazy lookup in flight at Close is canceled too.
	go func() { _, _ = snap.Types.FindMessageByName("test.library.v1.Hidden") }()

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-refreshErr; !errors.Is(err, reflection.ErrClosed) {
		t.Errorf("Refresh in flight at Close: %v, want ErrClosed", err)
	}
	close(gate)
	for _, conn := range []*grpc.ClientConn{connHeld, connOK, down} {
		_ = conn.Close()
	}
	held.stop()
	ok.stop()
}
