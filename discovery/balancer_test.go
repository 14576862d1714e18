package discovery

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// holdingHealth is a real gRPC health server that, once held, keeps every
// call until release is closed, signalling each arrival.
type holdingHealth struct {
	addr    string
	calls   atomic.Int32
	held    atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func startHoldingHealth(t *testing.T) *holdingHealth {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &holdingHealth{addr: l.Addr().String(), arrived: make(chan struct{}, 1024), release: make(chan struct{})}
	s := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		h.calls.Add(1)
		if h.held.Load() {
			h.arrived <- struct{}{}
			select {
			case <-h.release:
			case <-ctx.Done():
			}
		}
		return next(ctx, req)
	}))
	healthpb.RegisterHealthServer(s, health.NewServer())
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return h
}

// callsToSlow sends n calls one after another over a ClientConn balanced
// by policy across a slow endpoint (which holds every call) and a fast one,
// and returns how many the slow one got. Each call is sent once the one
// before has either returned or arrived at the slow endpoint, so the only
// difference between policies is how they pick.
func callsToSlow(t *testing.T, policy string, n int) int {
	slow, fast := startHoldingHealth(t), startHoldingHealth(t)
	res := NewResolver("balancer-test")
	res.Update([]Endpoint{{Addr: slow.addr}, {Addr: fast.addr}})
	conn, err := grpc.NewClient(res.Target(), res.DialOption(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(ServiceConfig(policy, false)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	call := func(ctx context.Context) error {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		return err
	}
	// Both connections up before counting: until then a policy has only
	// one endpoint to pick.
	deadline := time.Now().Add(10 * time.Second)
	for slow.calls.Load() == 0 || fast.calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: one endpoint never got a call: %d and %d", policy, slow.calls.Load(), fast.calls.Load())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := call(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	slow.held.Store(true)
	before := slow.calls.Load()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); close(slow.release); wg.Wait() }()
	returned := make(chan error, 1)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := call(ctx)
			select {
			case returned <- err:
			case <-ctx.Done(): // the held calls, released at the end
			}
		}()
		select {
		case <-slow.arrived:
		case err := <-returned:
			if err != nil {
				t.Fatalf("%s: a call to the fast endpoint failed: %v", policy, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: a call neither arrived at the slow endpoint nor returned", policy)
		}
	}
	return int(slow.calls.Load() - before)
}

// least_request, chosen by name, sends calls away from the endpoint that
// holds calls; round_robin alternates regardless. least_request samples two
// endpoints with replacement, so the slow one still gets a call when both
// samples are it: a quarter of them (50 of 200, sd 6); round_robin gives it
// half (100).
func TestLeastRequestAvoidsTheBusyEndpoint(t *testing.T) {
	const n = 200
	if got := callsToSlow(t, "round_robin", n); got < n/2-2 || got > n/2+2 {
		t.Errorf("round_robin: the slow endpoint got %d of %d calls, want %d", got, n, n/2)
	}
	got := callsToSlow(t, "least_request", n)
	t.Logf("least_request: the slow endpoint got %d of %d calls", got, n)
	if got > 80 {
		t.Errorf("least_request: the slow endpoint got %d of %d calls, want under 80 (5 sd above the 50 it gives; round_robin gives 100)", got, n)
	}
}
