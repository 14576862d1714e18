package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// Fault injection with real processes: backends killed, restarted with
// another schema, too slow, flooded. Each test asserts what callers see
// (the status, the google.rpc.Status body and its message), that nothing
// hangs (every wait is bounded by a context, never timed), and that no
// goroutine outlives it (checkLeaks).

// faultAnswer is one answer as a load worker saw it.
type faultAnswer struct {
	status   int
	servedBy string // Grpc-Metadata-X-Served-By: which backend answered
	code     float64
	message  string
	err      error // the request itself failed (connection, deadline)
}

// faultClient sends requests with a transport of its own, closed at the
// end of the test, and a bound on every request so that a hang fails the
// test instead of stalling it.
type faultClient struct {
	base string
	hc   *http.Client
}

func newFaultClient(t *testing.T, base string) *faultClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	t.Cleanup(tr.CloseIdleConnections)
	return &faultClient{base: base, hc: &http.Client{Transport: tr}}
}

// call sends one request, bounded by 30 s, and checks the shape of any
// error answer: a google.rpc.Status JSON body whose code matches the HTTP
// status and whose message is not empty.
func (c *faultClient) call(ctx context.Context, method, path, body string, hdr ...string) faultAnswer {
	a, _ := c.send(ctx, method, path, body, hdr...)
	return a
}

// callHeaders is call for a request without a body, also returning the
// answer's headers.
func (c *faultClient) callHeaders(ctx context.Context, method, path string, hdr ...string) (faultAnswer, http.Header) {
	return c.send(ctx, method, path, "", hdr...)
}

func (c *faultClient) send(ctx context.Context, method, path, body string, hdr ...string) (faultAnswer, http.Header) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return faultAnswer{err: err}, nil
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return faultAnswer{err: err}, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return faultAnswer{status: resp.StatusCode, err: err}, resp.Header
	}
	a := faultAnswer{status: resp.StatusCode, servedBy: resp.Header.Get("Grpc-Metadata-X-Served-By")}
	if resp.StatusCode == http.StatusOK {
		return a, resp.Header
	}
	var st struct {
		Code    *float64 `json:"code"`
		Message string   `json:"message"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Code == nil {
		a.err = fmt.Errorf("%d answer is not a google.rpc.Status: %s", resp.StatusCode, b)
		return a, resp.Header
	}
	a.code, a.message = *st.Code, st.Message
	switch {
	case resp.Header.Get("Content-Type") != transcode.JSONContentType:
		a.err = fmt.Errorf("%d answer with Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	case rpcstatus.HTTPStatus(codes.Code(a.code)) != resp.StatusCode && resp.StatusCode != http.StatusMethodNotAllowed &&
		(resp.StatusCode != http.StatusBadGateway || a.code != float64(codes.Internal)):
		a.err = fmt.Errorf("HTTP %d with code %v: %s", resp.StatusCode, a.code, b)
	case a.message == "":
		a.err = fmt.Errorf("%d answer without a message: %s", resp.StatusCode, b)
	}
	return a, resp.Header
}

// plainUnavailable reports whether msg is the gateway's UNAVAILABLE for
// the library upstream in words a caller can read: no grpc-go transport
// jargon, no internal address.
func plainUnavailable(msg string) bool {
	return strings.HasPrefix(msg, `upstream "library" unavailable: `) &&
		!strings.Contains(msg, "127.0.0.1") && !strings.Contains(msg, "transport") && !strings.Contains(msg, "desc =")
}

func (a faultAnswer) String() string {
	if a.err != nil {
		return fmt.Sprintf("error %v", a.err)
	}
	return fmt.Sprintf("%d code %v %q (served by %q)", a.status, a.code, a.message, a.servedBy)
}

// load runs workers sending req until stop is closed, and returns every
// answer they saw once they have all returned.
type load struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	answers []faultAnswer
}

func startLoad(ctx context.Context, c *faultClient, workers int, method, path, body string) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				a := c.call(ctx, method, path, body)
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) end() []faultAnswer {
	close(l.stop)
	l.wg.Wait()
	return l.answers
}

// tally counts answers by status ("error" for failed requests).
func tally(as []faultAnswer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		if a.err != nil {
			m["error"]++
		} else {
			m[fmt.Sprint(a.status)]++
		}
	}
	return m
}

// samples is the first message seen for each error status, for the log.
func samples(as []faultAnswer) map[int]string {
	m := map[int]string{}
	for _, a := range as {
		if _, ok := m[a.status]; !ok && a.status != 200 && a.err == nil {
			m[a.status] = a.message
		}
	}
	return m
}

func TestFaultBackendKilledUnderLoad(t *testing.T) {
	t.Run("no retries", func(t *testing.T) { testBackendKilledUnderLoad(t, "", false) })
	// With retries of idempotent calls, the calls in flight on the dead
	// instance are tried again on a live one, and succeed.
	t.Run("retries", func(t *testing.T) {
		testBackendKilledUnderLoad(t, "    policies: {retry: {attempts: 3, backoff: 1ms, idempotent: true}}\n", false)
	})
	// Instances discovered in Consul, which health-checks them: the
	// gateway routes around the dead one at once, and Consul's failing
	// check then takes it out of the set.
	t.Run("consul", func(t *testing.T) { testBackendKilledUnderLoad(t, "", true) })
}

func testBackendKilledUnderLoad(t *testing.T, policies string, viaConsul bool) {
	checkLeaks(t)
	var agent *consultest.Agent
	if viaConsul {
		agent = consultest.Start(t)
	}
	// Three instances; the second holds the calls asked to hang, so that
	// some are in flight on it when it dies.
	b0 := startBackendProc(t, "b0", "v1", "127.0.0.1:0", false)
	b1 := startBackendProc(t, "b1", "v1", "127.0.0.1:0", true)
	b2 := startBackendProc(t, "b2", "v1", "127.0.0.1:0", false)
	cfg := fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q, %q, %q]
%s`, b0.addr, b1.addr, b2.addr, policies)
	if viaConsul {
		for _, b := range []*proc{b0, b1, b2} {
			agent.Register(consultest.Instance{ID: b.addr, Service: "library", Addr: b.addr, GRPCCheck: true})
		}
		cfg = consulConfig(agent, libraryViaConsul+policies)
	}
	logs := &testkit.SyncBuffer{}
	h := serveGatewayLogging(t, cfg, zerolog.New(logs).Level(zerolog.WarnLevel))
	waitReady(t, h)
	c := newFaultClient(t, h.base)
	ctx := t.Context()
	// round_robin sends calls to every instance once its connection is
	// up.
	served := map[string]bool{}
	eventually(t, 10*time.Second, "every instance serving", func() bool {
		a := c.call(ctx, "GET", "/v1/shelves", "")
		served[a.servedBy] = a.status == 200
		return served["b0"] && served["b1"] && served["b2"]
	})

	l := startLoad(ctx, c, 4, "GET", "/v1/shelves", "")
	// Calls in flight on b1: send hold calls until b1 holds three. Each
	// call sent is either held by b1 (an event) or answered at once by b0
	// or b2, so when b1 holds three, those are the only ones unanswered.
	const inFlight = 3
	held := make(chan faultAnswer, 64)
	var holders sync.WaitGroup
	for nHeld := 0; nHeld < inFlight; {
		holders.Go(func() { held <- c.call(ctx, "GET", "/v1/shelves", "", "Grpc-Metadata-X-Fault-Hold", "1") })
		select {
		case ev := <-b1.events:
			if ev != "held /library.v1.LibraryService/ListShelves" {
				t.Fatalf("b1 said %q", ev)
			}
			nHeld++
		case a := <-held:
			if a.status != 200 || a.servedBy == "b1" {
				t.Fatalf("hold call: %v", a)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}

	b1.kill()
	// Every call in flight on b1 ends: with 503 and a message naming the
	// upstream and what happened, or with retries, served by another.
	holders.Wait()
	close(held)
	var died []faultAnswer
	for a := range held {
		died = append(died, a)
	}
	if len(died) != inFlight {
		t.Fatalf("%d calls were held on b1, %d answered: %v", inFlight, len(died), died)
	}
	for _, a := range died {
		if policies != "" {
			if a.err != nil || a.status != 200 || a.servedBy == "b1" {
				t.Errorf("a call in flight on the killed instance, retried, got %v", a)
			}
			continue
		}
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.code != float64(codes.Unavailable) ||
			!strings.HasPrefix(a.message, `upstream "library" unavailable: the connection to the instance was lost during the call`) ||
			!plainUnavailable(a.message) {
			t.Errorf("a call in flight on the killed instance got %v", a)
		}
	}
	t.Logf("in flight on the killed instance: %v", died[0])
	// The access log keeps grpc-go's own words for the operator.
	if policies == "" && !strings.Contains(logs.String(), `"cause":"error reading from server`) {
		t.Errorf("the access log does not say why the calls failed:\n%s", logs.Tail(2000))
	}

	if viaConsul {
		eventually(t, 15*time.Second, "Consul's check to take the dead instance out", func() bool {
			return len(h.upstream(t, "library").Endpoints) == 2
		})
	}

	// New calls go to the live instances once grpc-go has seen the
	// connection go (a call picked just before may still fail, with 503).
	eventually(t, 10*time.Second, "calls to succeed again", func() bool {
		return c.call(ctx, "GET", "/v1/shelves", "").status == 200
	})
	count := map[string]int{}
	for range 40 {
		a := c.call(ctx, "GET", "/v1/shelves", "")
		if a.status != 200 {
			t.Fatalf("after the kill: %v", a)
		}
		count[a.servedBy]++
	}
	if count["b0"] == 0 || count["b2"] == 0 || count["b1"] != 0 {
		t.Errorf("after the kill, calls were served by %v; want b0 and b2 only", count)
	}

	// The load never saw anything but 200 and 503 UNAVAILABLE naming the
	// upstream: no 500, no broken connection, no hang.
	answers := l.end()
	for _, a := range answers {
		if a.err != nil || (a.status != 200 && (a.status != 503 || !plainUnavailable(a.message))) {
			t.Errorf("under load: %v", a)
		}
	}
	t.Logf("load while an instance died: %v", tally(answers))
}

func TestFaultSchemaChangesUnderLoad(t *testing.T) {
	checkLeaks(t)
	bins := buildCommands(t, "github.com/refract-gateway/refract/examples/cmd/library-server",
		"github.com/refract-gateway/refract/examples/cmd/library-server-v2")
	v1, v2 := bins[0], bins[1]
	backend := startExampleServer(t, v1, "127.0.0.1:0")
	addr := backend.addr
	h := startGateway(t, fmt.Sprintf(`
reflection: {refresh_interval: 300ms}
upstreams:
  - name: library
    static: [%q]
`, addr))
	c := newFaultClient(t, h.base)
	ctx := t.Context()
	const version = "/library.v1.LibraryService/GetServerVersion"
	if a := c.call(ctx, "POST", version, `{}`); a.status != 404 || a.message != "no route for POST "+version {
		t.Fatalf("v1: %v", a)
	}
	shelves := startLoad(ctx, c, 2, "GET", "/v1/shelves", "")
	versions := startLoad(ctx, c, 2, "POST", version, `{}`)

	// v1 → v2: killed, and started again on the same address with one
	// method more, which appears.
	began := time.Now()
	backend.kill()
	backend = startExampleServer(t, v2, addr)
	t.Logf("v2 up after %s", time.Since(began))
	eventually(t, 15*time.Second, "the v2 method", func() bool {
		return c.call(ctx, "POST", version, `{}`).status == 200
	})
	t.Logf("v2 method routed after %s", time.Since(began))
	// v2 → v1: stopped gracefully, and v1 started again: the method goes.
	backend.stop()
	startExampleServer(t, v1, addr)
	eventually(t, 15*time.Second, "the v2 method to go", func() bool {
		return c.call(ctx, "POST", version, `{}`).status == 404
	})
	t.Logf("v2 method gone after %s", time.Since(began))
	if a := c.call(ctx, "GET", "/v1/shelves", ""); a.status != 200 {
		t.Fatalf("after the deploys: %v", a)
	}

	// Nothing but the statuses a redeploy explains: 503 while no
	// instance listens, 501 from v1 for the method until the routes
	// follow, 404 once they have. Never a 500, never a broken answer.
	for _, a := range shelves.end() {
		if a.err != nil || (a.status != 200 && (a.status != 503 || !plainUnavailable(a.message))) {
			t.Errorf("GET /v1/shelves during the deploys: %v", a)
		}
	}
	vs := versions.end()
	for _, a := range vs {
		ok := a.err == nil
		switch a.status {
		case 200:
		case 503:
			ok = ok && plainUnavailable(a.message)
		case 501:
			ok = ok && a.code == float64(codes.Unimplemented) && strings.Contains(a.message, "GetServerVersion")
		case 404:
			ok = ok && a.message == "no route for POST "+version
		default:
			ok = false
		}
		if !ok {
			t.Errorf("POST %s during the deploys: %v", version, a)
		}
	}
	if n := tally(vs); n["200"] == 0 || n["404"] == 0 {
		t.Errorf("the load did not see both schemas: %v", n)
	}
	t.Logf("GetServerVersion during v1 → v2 → v1: %v; messages %v", tally(vs), samples(vs))
}

func TestFaultSlowBackendDeadlinesReachIt(t *testing.T) {
	checkLeaks(t)
	slow := startBackendProc(t, "slow", "v1", "127.0.0.1:0", true)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    timeout: 30s
    routes:
      - match: "library.v1.LibraryService.ListShelves"
        policies: {timeout: 300ms}
`, slow.addr))
	c := newFaultClient(t, h.base)
	ctx := t.Context()
	hold := []string{"Grpc-Metadata-X-Fault-Hold", "1"}
	// The backend saw the call, and then saw it end: its handler's context
	// was done, so it can stop working on an answer nobody waits for.
	sawCancel := func(method, want string) {
		t.Helper()
		if ev := slow.expect(t, "held "); ev != "held /library.v1.LibraryService/"+method {
			t.Fatalf("backend: %q", ev)
		}
		if ev := slow.expect(t, "cancelled "); want != "" && ev != "cancelled "+want {
			t.Fatalf("backend: %q, want %q", ev, "cancelled "+want)
		}
	}

	for _, tc := range []struct {
		name, grpcTimeout, within string
	}{
		{"route timeout", "", "300ms"},
		{"shorter Grpc-Timeout", "100m", "100ms"},
	} {
		hdr := hold
		if tc.grpcTimeout != "" {
			hdr = append([]string{"Grpc-Timeout", tc.grpcTimeout}, hold...)
		}
		a := c.call(ctx, "GET", "/v1/shelves", "", hdr...)
		want := `upstream "library" did not answer within ` + tc.within + ": "
		if a.err != nil || a.status != http.StatusGatewayTimeout || a.code != float64(codes.DeadlineExceeded) || !strings.HasPrefix(a.message, want) {
			t.Fatalf("%s: %v, want 504 code 4 %q…", tc.name, a, want)
		}
		// The deadline travels with the call (grpc-timeout), so the backend
		// may see it pass before the gateway's cancellation arrives.
		sawCancel("ListShelves", "")
		t.Logf("%s: %v", tc.name, a)
	}

	// A client that goes away cancels the call: the backend sees
	// context.Canceled long before any deadline (30 s here).
	cctx, cancel := context.WithCancel(ctx)
	answered := make(chan faultAnswer, 1)
	go func() { answered <- c.call(cctx, "GET", "/v1/shelves/1", "", hold...) }()
	if ev := slow.expect(t, "held "); ev != "held /library.v1.LibraryService/GetShelf" {
		t.Fatalf("backend: %q", ev)
	}
	cancel()
	if ev := slow.expect(t, "cancelled "); ev != "cancelled context canceled" {
		t.Fatalf("backend: %q, want the client's cancellation", ev)
	}
	if a := <-answered; a.err == nil {
		t.Fatalf("the cancelled request was answered: %v", a)
	}
	// And the gateway serves on.
	if a := c.call(ctx, "GET", "/v1/shelves/1", ""); a.status != 200 {
		t.Fatalf("after the cancellations: %v", a)
	}
}

// waitReady waits until the gateway serves every upstream's routes.
func waitReady(t *testing.T, h *harness) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := h.gw.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// heapBytes is the live heap after a full collection.
func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestFaultRateLimitFlood(t *testing.T) {
	checkLeaks(t)
	lib := startCounted(t, examples.StartLibrary)
	// Quiet: each refusal is logged at warn, and a test writer would keep
	// every line in memory for the test's output.
	h := serveGatewayLogging(t, fmt.Sprintf(`
trusted_proxies: [127.0.0.1/32]
policies:
  rate_limits:
    - {name: per-ip, key: ip, rate: 5, per: 1h, burst: 5}
upstreams:
  - name: library
    static: [%q]
`, lib.Addr), zerolog.Nop())
	waitReady(t, h)
	c := newFaultClient(t, h.base)
	ctx := t.Context()

	// flood sends n requests from 8 workers, from the client IP ip(i) when
	// ip is set, and counts the answers; every 429 must be the rate
	// limit's, with its headers.
	const workers = 8
	flood := func(n int, ip func(int) string) map[string]int {
		var mu sync.Mutex
		got := map[string]int{}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					var hdr []string
					if ip != nil {
						hdr = []string{"X-Forwarded-For", ip(i)}
					}
					a, resp := c.callHeaders(ctx, "GET", "/v1/shelves", hdr...)
					key := fmt.Sprint(a.status)
					if a.err != nil {
						key = "error"
						t.Errorf("flood: %v", a)
					} else if a.status == http.StatusTooManyRequests {
						if err := checkRateLimited(a, resp); err != nil {
							t.Errorf("flood: %v", err)
						}
					}
					mu.Lock()
					got[key]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return got
	}

	// One client far over its limit: exactly the burst is admitted, the
	// rest refused, and the backend sees only the admitted.
	if got := flood(500, nil); got["200"] != 5 || got["429"] != 495 {
		t.Fatalf("first 500 requests: %v, want 5 admitted", got)
	}
	before := heapBytes()
	n := 10000
	if raceEnabled {
		n = 2000
	}
	if got := flood(n, nil); got["429"] != n {
		t.Fatalf("flood: %v, want %d refused", got, n)
	}
	after := heapBytes()
	if calls := lib.n("/library.v1.LibraryService/ListShelves"); calls != 5 {
		t.Errorf("the backend served %d calls, want the 5 admitted", calls)
	}
	grew := int64(after) - int64(before)
	t.Logf("one client, %d refused requests: live heap %d → %d bytes (%+d)", n, before, after, grew)
	// Flat: a refusal keeps nothing. The bound only leaves room for the
	// runtime's and the transports' own churn.
	if grew > 4<<20 {
		t.Errorf("the live heap grew by %d bytes over %d refused requests", grew, n)
	}

	// Many clients (one request each, through a trusted proxy): one bucket
	// each, until idle ones are swept.
	clients := 2000
	if raceEnabled {
		clients = 500
	}
	before = heapBytes()
	if got := flood(clients, func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }); got["200"] != clients {
		t.Fatalf("%d clients: %v, want all admitted", clients, got)
	}
	after = heapBytes()
	t.Logf("%d clients, one request each: live heap %d → %d bytes (%+d, %d per client)", clients, before, after, int64(after)-int64(before), (int64(after)-int64(before))/int64(clients))
}

// checkRateLimited checks a 429 is the per-ip limit's refusal.
func checkRateLimited(a faultAnswer, resp http.Header) error {
	ra, err := strconv.Atoi(resp.Get("Retry-After"))
	want := fmt.Sprintf("rate limit per-ip exceeded (5 per 1h0m0s); retry after %ds", ra)
	switch {
	case err != nil || ra < 1 || ra > 720:
		return fmt.Errorf("Retry-After %q, want 1 to 720 s", resp.Get("Retry-After"))
	case a.code != float64(codes.ResourceExhausted) || a.message != want:
		return fmt.Errorf("429 says %v, want code 8 %q", a, want)
	case resp.Get("RateLimit-Limit") != "5" || resp.Get("RateLimit-Remaining") != "0" || resp.Get("RateLimit-Policy") != "5;w=3600":
		return fmt.Errorf("429 headers %v", resp)
	}
	return nil
}

func TestFaultBackendKilledMidStream(t *testing.T) {
	checkLeaks(t)
	echo := startBackendProc(t, "e0", "echo", "127.0.0.1:0", false)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: echo
    static: [%q]
`, echo.addr))
	// A server stream with ten seconds between two messages: the backend
	// dies after the first.
	req, err := http.NewRequestWithContext(withTimeout(t, 30*time.Second), "POST", h.base+"/echo.v1.EchoService/Expand",
		strings.NewReader(`{"text":"tick","count":1000,"intervalMs":10000}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := newFaultClient(t, h.base)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if l := readLine(t, br); l != `{"result":{"message":"tick","index":0}}` {
		t.Fatalf("first line %s", l)
	}
	echo.kill()
	// The stream ends at once with an error line saying what happened,
	// not at the next message's time nor at a deadline.
	var last struct {
		Error struct {
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal([]byte(readLine(t, br)), &last); err != nil {
		t.Fatal(err)
	}
	if last.Error.Code != int(codes.Unavailable) || !strings.HasPrefix(last.Error.Message, `upstream "echo" unavailable: the connection to the instance was lost during the call`) {
		t.Fatalf("last line: %+v", last)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the error line: %q, %v", rest, err)
	}
	t.Logf("a stream whose backend died ends with %+v", last)
}

// garbageCodec is a backend's codec that sends broken responses for some
// messages: truncated wire bytes for ListShelves, a name that is not UTF-8
// for shelf 1, and an unparsable cover.
type garbageCodec struct{ encoding.CodecV2 }

func (c garbageCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *librarypb.ListShelvesResponse:
		return mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0xff, 0xff, 0xff})}, nil
	case *librarypb.Shelf:
		if m.GetName() == "shelves/1" {
			return mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x03, 0xff, 0xfe, 0xfd})}, nil
		}
	case *httpbody.HttpBody:
		return mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x7f})}, nil
	}
	return c.CodecV2.Marshal(v)
}

func (garbageCodec) Name() string { return "proto" }

func TestFaultBackendSendsGarbage(t *testing.T) {
	checkLeaks(t)
	lib := startLibrary(t, grpc.ForceServerCodecV2(garbageCodec{encoding.GetCodecV2("proto")}))
	h := startGateway(t, libraryAt(lib.Addr, ""))
	c := newFaultClient(t, h.base)
	// The backend's fault, not the gateway's: 502 naming the upstream, the
	// type and what is wrong with it, whichever decoder found it (the
	// gateway's own wire → JSON renderer, or grpc-go's unmarshalling into a
	// dynamic message for types the fast path leaves to protojson).
	for _, tc := range []struct{ path, want string }{
		{"/v1/shelves", `upstream "library" sent a response that is not a valid library.v1.ListShelvesResponse: unexpected EOF`},
		{"/v1/shelves/1", `upstream "library" sent a response that is not a valid library.v1.Shelf: field library.v1.Shelf.name: string is not valid UTF-8`},
		{"/v1/shelves/1/books/1/cover", `upstream "library" sent a response that is not a valid google.api.HttpBody: `},
	} {
		a := c.call(t.Context(), "GET", tc.path, "")
		if a.err != nil || a.status != http.StatusBadGateway || a.code != float64(codes.Internal) || !strings.HasPrefix(a.message, tc.want) {
			t.Errorf("GET %s: %v, want 502 code 13 %q", tc.path, a, tc.want)
		}
		t.Logf("GET %s: %v", tc.path, a)
	}
	if a := c.call(t.Context(), "GET", "/v1/shelves/2", ""); a.status != 200 {
		t.Fatalf("a good response: %v", a)
	}
}
