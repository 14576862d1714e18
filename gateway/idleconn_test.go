package gateway_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/server"

	"github.com/rs/zerolog"
)

// idleConns is how many idle connections TestFaultIdleConnections opens.
const idleConns = 10000

// memInUse is the live heap and the goroutine stacks after a full
// collection: what an idle connection costs lives in both (its buffers and
// its goroutine).
func memInUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// rssBytes is the process's resident set (Linux), or 0.
func rssBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// needFiles raises the open-file limit for n connections in this process,
// or skips the test loudly (fails it under CI=true) when the hard limit
// does not allow it.
func needFiles(t *testing.T, n int) {
	t.Helper()
	if err := raiseFileLimit(uint64(n) + 1024); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("SKIPPED — NOT TESTED: %v", err)
	}
}

// The gateway holds 10,000 idle keep-alive connections (each has made one
// request) in bounded memory, measured in this process while the clients
// are another process; the idle timeout closes them all.
func TestFaultIdleConnections(t *testing.T) {
	if raceEnabled {
		// It measures memory, which the race detector multiplies, and takes
		// four times as long under it; the plain test run (CI runs both)
		// runs it.
		t.Skip("measured without the race detector: run without -race")
	}
	checkLeaks(t)
	needFiles(t, idleConns)
	lib := startLibrary(t)
	// Quiet: the clients' 404s would otherwise be logged into the test's
	// memory.
	h := serveGatewayLogging(t, libraryAt(lib.Addr, ""), zerolog.Nop())
	waitReady(t, h)

	heap0, stack0 := memInUse()
	rss0 := rssBytes()
	clients := startHelper(t, roleIdleClients, helperAddr+"="+strings.TrimPrefix(h.base, "http://"), helperConns+"="+strconv.Itoa(idleConns))
	if ev := clients.expect(t, "ready "); ev != "ready "+strconv.Itoa(idleConns) {
		t.Fatalf("clients: %q", ev)
	}
	heap1, stack1 := memInUse()
	rss1 := rssBytes()
	perConn := (int64(heap1+stack1) - int64(heap0+stack0)) / idleConns
	t.Logf("%d idle connections: heap %+d B, goroutine stacks %+d B, together %d B per connection; RSS %+d B (%d B per connection)",
		idleConns, int64(heap1)-int64(heap0), int64(stack1)-int64(stack0), perConn,
		int64(rss1)-int64(rss0), (int64(rss1)-int64(rss0))/idleConns)
	// Bounded: a connection is a goroutine and its buffers. The bound is
	// generous; what it catches is a request's worth of state (a body, a
	// decoded message, a context tree) kept per idle connection.
	if perConn > 64<<10 {
		t.Errorf("an idle connection costs %d bytes of heap and stack", perConn)
	}
	// The gateway still serves.
	if r := h.do(t, "GET", "/v1/shelves", ""); r.status != 200 {
		t.Fatalf("with %d idle connections: %d %s", idleConns, r.status, r.body)
	}
	clients.stop()

	// The idle timeout closes them: a gateway configured with a short one
	// (the default, 120 s, would make the test wait two minutes), serving
	// from an http.Server built as the server's are, with every other
	// setting its own.
	short := serveGatewayLogging(t, libraryAt(lib.Addr, "")+"limits: {idle_timeout: 1s}\n", zerolog.Nop())
	srv := server.HTTPServer(short.srv.Config(), zerolog.Nop(), short.gw)
	if srv.IdleTimeout != time.Second || srv.ReadHeaderTimeout <= 0 {
		t.Fatalf("limits.idle_timeout: 1s gave a server with idle timeout %s, header timeout %s", srv.IdleTimeout, srv.ReadHeaderTimeout)
	}
	var open atomic.Int64
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	clients = startHelper(t, roleIdleClients, helperAddr+"="+ln.Addr().String(), helperConns+"="+strconv.Itoa(idleConns))
	if ev := clients.expect(t, "ready "); ev != "ready "+strconv.Itoa(idleConns) {
		t.Fatalf("clients: %q", ev)
	}
	// Every connection is closed by the server: the clients see EOF on all
	// of them (expect bounds the wait at a minute).
	if ev := clients.expect(t, "closed "); ev != "closed "+strconv.Itoa(idleConns) {
		t.Fatalf("clients: %q", ev)
	}
	eventually(t, 10*time.Second, "the server to count no open connection", func() bool { return open.Load() == 0 })
}
