package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// streamProbe is a backend stream interceptor that counts messages each
// way, records how each call ended, sets header and trailer metadata, and
// on request holds a stream after its first response until released or
// fails it after some responses. It lets tests assert ordering and
// cancellation without sleeping.
type streamProbe struct {
	sent, recvd atomic.Int64
	inSend      atomic.Int32 // 1 while a SendMsg is blocked (flow control)
	ended       chan probeEnd

	mu        sync.Mutex
	hold      chan struct{} // when set, the second SendMsg waits until it is closed
	failAfter int64         // when > 0, SendMsg number failAfter+1 fails with DATA_LOSS
}

type probeEnd struct {
	method string
	err    error // what the handler returned
	ctxErr error // the call's context error when it ended
}

func newStreamProbe() *streamProbe { return &streamProbe{ended: make(chan probeEnd, 64)} }

func (p *streamProbe) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, "/echo.v1.") {
		return handler(srv, ss) // reflection and health are not under test
	}
	_ = ss.SetHeader(metadata.Pairs("x-served-by", "echo-1"))
	ss.SetTrailer(metadata.Pairs("x-cost", "7"))
	err := handler(srv, &probedStream{ServerStream: ss, p: p})
	p.ended <- probeEnd{method: info.FullMethod, err: err, ctxErr: ss.Context().Err()}
	return err
}

// holdAfterFirst makes the next stream wait after its first response until
// the returned function is called.
func (p *streamProbe) holdAfterFirst() (release func()) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.hold = ch
	p.mu.Unlock()
	return sync.OnceFunc(func() { close(ch) })
}

func (p *streamProbe) failAfterSends(n int64) {
	p.mu.Lock()
	p.failAfter = n
	p.mu.Unlock()
}

// waitEnd returns how the next call ended (10 s bound: a missing end is a
// failure, not a slow machine).
func (p *streamProbe) waitEnd(t *testing.T) probeEnd {
	t.Helper()
	select {
	case e := <-p.ended:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("the backend call did not end")
		return probeEnd{}
	}
}

type probedStream struct {
	grpc.ServerStream
	p *streamProbe
	n int64
}

func (s *probedStream) SendMsg(m any) error {
	s.p.mu.Lock()
	hold, failAfter := s.p.hold, s.p.failAfter
	s.p.mu.Unlock()
	if failAfter > 0 && s.n == failAfter {
		return status.Errorf(codes.DataLoss, "the disk went away after %d messages", s.n)
	}
	if s.n == 1 && hold != nil {
		select {
		case <-hold:
		case <-s.Context().Done():
			return s.Context().Err()
		}
	}
	s.p.inSend.Store(1)
	err := s.ServerStream.SendMsg(m)
	s.p.inSend.Store(0)
	if err == nil {
		s.n++
		s.p.sent.Add(1)
	}
	return err
}

func (s *probedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.p.recvd.Add(1)
	}
	return err
}

// checkLeaks fails the test if goroutines it started outlive it: the
// streams' readers, writers and pingers must all end with their calls. Call
// it first, so its check runs after every other cleanup (backends stopped,
// gateway closed).
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		// A connection being dialled by net/http's shared transport belongs
		// to whichever test runs in parallel, not to this one's streams.
		goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("net/http.(*Transport).dialConnFor"))
	})
}

// startProbedEcho starts the echo backend with a probe on its streams.
func startProbedEcho(t *testing.T) (*examples.Backend, *streamProbe) {
	t.Helper()
	p := newStreamProbe()
	b, err := examples.StartEcho("127.0.0.1:0", grpc.StreamInterceptor(p.interceptor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b, p
}

func echoConfig(addr, streams string) string {
	return fmt.Sprintf(`
upstreams:
  - name: echo
    static: [%q]
    streams: {%s}
`, addr, streams)
}

// open starts a request and returns the response with its body unread.
func (h *harness) open(t *testing.T, method, path string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// unspace undoes protojson's deliberately unstable spacing (it adds a
// space after some ',' and ':' at random, so that nobody depends on its
// bytes) in test data whose strings hold no such sequences.
func unspace(s string) string {
	return strings.NewReplacer(`, "`, `,"`, `": `, `":`).Replace(s)
}

// readLine reads one line (without its newline) or fails.
func readLine(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, line)
	}
	return unspace(strings.TrimSuffix(line, "\n"))
}

// readEvent reads one SSE event: its lines up to the blank line.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var lines []string
	for {
		l := readLine(t, br)
		if l == "" {
			return strings.Join(lines, "\n")
		}
		lines = append(lines, l)
	}
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// h2cClient is an HTTP client that speaks HTTP/2 without TLS (h2c) to the
// public listener; its idle connections close when the test ends.
func h2cClient(t *testing.T) *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}
