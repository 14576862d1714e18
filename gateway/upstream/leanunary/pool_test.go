package leanunary

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/echo/echopb"
	"golang.org/x/net/http2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const echoMethod = "/echo.v1.EchoService/Echo"

func newPool(t *testing.T, o Options, addrs ...string) *Pool {
	t.Helper()
	if o.Dial == nil {
		o.Dial = tcpDial
	}
	p := New(o)
	t.Cleanup(p.Close)
	p.SetEndpoints(addrs)
	waitReady(t, p)
	return p
}

// waitReady waits until every endpoint of p has a connection that takes
// calls: the pool dials in the background and declines calls until then.
func waitReady(t testing.TB, p *Pool) {
	t.Helper()
	eps := p.list()
	deadline := time.Now().Add(10 * time.Second)
	for _, e := range eps {
		for e.ready(p) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no connection to %s", e.addr)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStatusWithDetails(t *testing.T) {
	p := newPool(t, Options{}, startEcho(t))
	// An empty message is refused with a BadRequest detail.
	err := p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{}, new(echopb.EchoResponse))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
		t.Fatalf("status %v, details %v", st, st.Details())
	}
	if br, ok := st.Details()[0].(*errdetails.BadRequest); !ok || br.FieldViolations[0].Field != "message" {
		t.Fatalf("detail %v", st.Details()[0])
	}
}

func TestDeclines(t *testing.T) {
	ctx := testCtx(t)
	empty := newPool(t, Options{})
	if err := empty.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse)); err != ErrDeclined {
		t.Fatalf("no endpoints: %v", err)
	}
	p := newPool(t, Options{}, startEcho(t))
	if err := p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse), grpc.UseCompressor(gzip.Name)); err != ErrDeclined {
		t.Fatalf("compressor: %v", err)
	}
	// An endpoint that refuses connections: declined, so grpc-go answers
	// with its own view; nothing was sent.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := lis.Addr().String()
	lis.Close()
	down := New(Options{Dial: tcpDial})
	defer down.Close()
	down.SetEndpoints([]string{dead})
	var pr peer.Peer
	if err := down.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse), grpc.Peer(&pr)); err != ErrDeclined || pr.Addr != nil {
		t.Fatalf("refused: %v, peer %v", err, pr.Addr)
	}
}

func TestMaxRecv(t *testing.T) {
	p := newPool(t, Options{}, startEcho(t))
	err := p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{Message: "0123456789", Repeat: 100}, new(echopb.EchoResponse), grpc.MaxCallRecvMsgSize(100))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("got %v", err)
	}
	// The connection is still good.
	if err := p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{Message: "ok"}, new(echopb.EchoResponse)); err != nil {
		t.Fatal(err)
	}
}

func TestBalancers(t *testing.T) {
	a, b := startEcho(t), startEcho(t)
	for _, bal := range []string{"round_robin", "least_request", "pick_first"} {
		t.Run(bal, func(t *testing.T) {
			p := newPool(t, Options{Balancer: bal}, a, b)
			seen := map[string]int{}
			for range 40 {
				var pr peer.Peer
				if err := p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse), grpc.Peer(&pr)); err != nil {
					t.Fatal(err)
				}
				seen[pr.Addr.String()]++
			}
			switch bal {
			case "pick_first":
				if seen[a] != 40 {
					t.Fatalf("pick_first spread calls: %v", seen)
				}
			case "round_robin":
				if seen[a] != 20 || seen[b] != 20 {
					t.Fatalf("round_robin: %v", seen)
				}
			default:
				if seen[a]+seen[b] != 40 {
					t.Fatalf("least_request: %v", seen)
				}
			}
		})
	}
}

// TestLeastRequest: of two endpoints, calls go to the one with fewer calls
// in flight.
func TestLeastRequest(t *testing.T) {
	busyAddr, entered, _ := startBlocking(t, make(chan struct{}))
	idle := startEcho(t)
	p := newPool(t, Options{Balancer: "least_request"}, busyAddr, idle)
	// A call that hangs on the busy endpoint until the test ends (ties go
	// either way, so calls are sent until one lands there).
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	held := 0
	for held == 0 {
		go p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "hold"}, new(echopb.EchoResponse)) //nolint:errcheck // cancelled at the end
		select {
		case <-entered:
			held++
		case <-time.After(20 * time.Millisecond): // it went to the idle one
		}
	}
	for range 20 {
		var pr peer.Peer
		if err := p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse), grpc.Peer(&pr)); err != nil {
			t.Fatal(err)
		}
		if pr.Addr.String() != idle {
			t.Fatalf("a call went to the endpoint with %d calls in flight", held)
		}
	}
}

// TestGracefulStop: a server that stops gracefully (GOAWAY) lets the call
// in flight finish; the next call, with the server gone, is declined.
func TestGracefulStop(t *testing.T) {
	release := make(chan struct{})
	addr, entered, srv := startBlocking(t, release)
	p := newPool(t, Options{}, addr)
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		resp := new(echopb.EchoResponse)
		err := p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "slow"}, resp)
		if err == nil && resp.GetMessage() != "slow" {
			err = fmt.Errorf("answer %q", resp.GetMessage())
		}
		done <- err
	}()
	<-entered
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the call in flight: %v", err)
	}
	<-stopped
	if err := p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse)); err != ErrDeclined {
		t.Fatalf("after the server left: %v", err)
	}
}

// TestServerDiesMidCall: a call the server received when its connection
// broke fails UNAVAILABLE with its peer set (it may have been processed:
// not safe to retry blindly).
func TestServerDiesMidCall(t *testing.T) {
	addr, entered, srv := startBlocking(t, make(chan struct{}))
	p := newPool(t, Options{}, addr)
	done := make(chan error, 1)
	var pr peer.Peer
	go func() {
		done <- p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse), grpc.Peer(&pr))
	}()
	<-entered
	srv.Stop()
	if err := <-done; status.Code(err) != codes.Unavailable || pr.Addr == nil {
		t.Fatalf("got %v, peer %v", err, pr.Addr)
	}
}

func TestCancel(t *testing.T) {
	addr, entered, _ := startBlocking(t, make(chan struct{}))
	p := newPool(t, Options{}, addr)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse)) }()
	<-entered
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Fatalf("got %v", err)
	}
}

// startBlocking serves blockingEcho; the server is stopped at the end of
// the test unless the test stops it first.
func startBlocking(t *testing.T, release chan struct{}) (addr string, entered chan struct{}, srv *grpc.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered = make(chan struct{})
	srv = grpc.NewServer()
	echopb.RegisterEchoServiceServer(srv, blockingEcho{entered: entered, release: release})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), entered, srv
}

// blockingEcho answers once release is closed; entered is told each call.
type blockingEcho struct {
	echopb.UnimplementedEchoServiceServer
	entered, release chan struct{}
}

func (s blockingEcho) Echo(ctx context.Context, req *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	select {
	case s.entered <- struct{}{}:
	case <-ctx.Done(): // nobody counts it any more
		return nil, ctx.Err()
	}
	select {
	case <-s.release:
		return &echopb.EchoResponse{Message: req.GetMessage()}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestConcurrentCalls(t *testing.T) {
	p := newPool(t, Options{}, startEcho(t), startEcho(t))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				msg := fmt.Sprintf("m%d-%d", i, j)
				resp := new(echopb.EchoResponse)
				if err := p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: msg}, resp); err != nil || resp.GetMessage() != msg {
					errs <- fmt.Errorf("%s: %v %q", msg, err, resp.GetMessage())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNotGRPC: an HTTP/2 server that is not a gRPC server gets the call's
// status from its HTTP status, as grpc-go would give it.
func TestNotGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2 := &http2.Server{}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go h2.ServeConn(c, &http2.ServeConnOpts{Handler: http.NotFoundHandler()})
		}
	}()
	defer lis.Close()
	p := newPool(t, Options{}, lis.Addr().String())
	err = p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("got %v", err)
	}
}

// TestHostileServer: a peer that answers the preface with garbage, or
// with a header block past the budget, fails calls; nothing hangs.
func TestHostileServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, len(http2.ClientPreface))
				if _, err := c.Read(buf); err != nil {
					return
				}
				fr := http2.NewFramer(c, c)
				fr.WriteSettings()
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						return
					}
					if h, ok := f.(*http2.HeadersFrame); ok {
						// A header block of 2 MiB in CONTINUATION frames.
						fr.WriteHeaders(http2.HeadersFrameParam{StreamID: h.StreamID, BlockFragment: []byte{0x88}})
						big := make([]byte, 16384)
						for i := range big {
							big[i] = 0x40
						}
						for range 128 {
							if fr.WriteContinuation(h.StreamID, false, big) != nil {
								return
							}
						}
					}
				}
			}()
		}
	}()
	p := newPool(t, Options{}, lis.Addr().String())
	err = p.Invoke(testCtx(t), echoMethod, &echopb.EchoRequest{Message: "x"}, new(echopb.EchoResponse))
	if err == nil || errors.Is(err, ErrDeclined) {
		t.Fatalf("got %v", err)
	}
}
