package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc/codes"
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
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return faultAnswer{err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return faultAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return faultAnswer{status: resp.StatusCode, err: err}
	}
	a := faultAnswer{status: resp.StatusCode, servedBy: resp.Header.Get("Grpc-Metadata-X-Served-By")}
	if resp.StatusCode == http.StatusOK {
		return a
	}
	var st struct {
		Code    *float64 `json:"code"`
		Message string   `json:"message"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Code == nil {
		a.err = fmt.Errorf("%d answer is not a google.rpc.Status: %s", resp.StatusCode, b)
		return a
	}
	a.code, a.message = *st.Code, st.Message
	switch {
	case resp.Header.Get("Content-Type") != transcode.JSONContentType:
		a.err = fmt.Errorf("%d answer with Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	case transcode.HTTPStatus(codes.Code(a.code)) != resp.StatusCode && resp.StatusCode != http.StatusMethodNotAllowed:
		a.err = fmt.Errorf("HTTP %d with code %v: %s", resp.StatusCode, a.code, b)
	case a.message == "":
		a.err = fmt.Errorf("%d answer without a message: %s", resp.StatusCode, b)
	}
	return a
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
	checkLeaks(t)
	// Three instances; the second holds the calls asked to hang, so that
	// some are in flight on it when it dies.
	b0 := startBackendProc(t, "b0", "v1", "127.0.0.1:0", false)
	b1 := startBackendProc(t, "b1", "v1", "127.0.0.1:0", true)
	b2 := startBackendProc(t, "b2", "v1", "127.0.0.1:0", false)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q, %q, %q]
`, b0.addr, b1.addr, b2.addr))
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
	// Calls in flight on b1: send hold calls until b1 holds three (those
	// that reach b0 and b2 are answered at once).
	const inFlight = 3
	held := make(chan faultAnswer, 64)
	var holders sync.WaitGroup
	nHeld := 0
	for nHeld < inFlight {
		holders.Go(func() { held <- c.call(ctx, "GET", "/v1/shelves", "", "Grpc-Metadata-X-Fault-Hold", "1") })
		select {
		case ev := <-b1.events:
			if ev != "held /library.v1.LibraryService/ListShelves" {
				t.Fatalf("b1 said %q", ev)
			}
			nHeld++
		case a := <-held: // answered by b0 or b2
			if a.status != 200 || a.servedBy == "b1" {
				t.Fatalf("hold call: %v", a)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}

	b1.kill()
	// Every call in flight on b1 ends, with 503 and a message naming the
	// upstream and the cause.
	holders.Wait()
	close(held)
	var died []faultAnswer
	for a := range held {
		if a.status == 200 && a.servedBy != "b1" {
			continue // a late hold call that went elsewhere
		}
		died = append(died, a)
	}
	if len(died) != inFlight {
		t.Fatalf("%d calls were held on b1, %d failed: %v", inFlight, len(died), died)
	}
	for _, a := range died {
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.code != float64(codes.Unavailable) ||
			!strings.HasPrefix(a.message, `upstream "library" unavailable: `) {
			t.Errorf("a call in flight on the killed instance got %v", a)
		}
	}
	t.Logf("in flight on the killed instance: %v", died[0])

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
		if a.err != nil || (a.status != 200 && (a.status != 503 || !strings.HasPrefix(a.message, `upstream "library" unavailable: `))) {
			t.Errorf("under load: %v", a)
		}
	}
	t.Logf("load while an instance died: %v", tally(answers))
}

func TestFaultSchemaChangesUnderLoad(t *testing.T) {
	checkLeaks(t)
	v1 := buildCommand(t, "github.com/refract-gateway/refract/examples/cmd/library-server")
	v2 := buildCommand(t, "github.com/refract-gateway/refract/examples/cmd/library-server-v2")
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
	backend.kill()
	backend = startExampleServer(t, v2, addr)
	eventually(t, 15*time.Second, "the v2 method", func() bool {
		return c.call(ctx, "POST", version, `{}`).status == 200
	})
	// v2 → v1: stopped gracefully, and v1 started again: the method goes.
	backend.stop()
	startExampleServer(t, v1, addr)
	eventually(t, 15*time.Second, "the v2 method to go", func() bool {
		return c.call(ctx, "POST", version, `{}`).status == 404
	})
	if a := c.call(ctx, "GET", "/v1/shelves", ""); a.status != 200 {
		t.Fatalf("after the deploys: %v", a)
	}

	// Nothing but the statuses a redeploy explains: 503 while no
	// instance listens, 501 from v1 for the method until the routes
	// follow, 404 once they have. Never a 500, never a broken answer.
	unavailable := `upstream "library" unavailable: `
	for _, a := range shelves.end() {
		if a.err != nil || (a.status != 200 && (a.status != 503 || !strings.HasPrefix(a.message, unavailable))) {
			t.Errorf("GET /v1/shelves during the deploys: %v", a)
		}
	}
	vs := versions.end()
	for _, a := range vs {
		ok := a.err == nil
		switch a.status {
		case 200:
		case 503:
			ok = ok && strings.HasPrefix(a.message, unavailable)
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
