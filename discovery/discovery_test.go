package discovery

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewStatic(t *testing.T) {
	if _, err := NewStatic([]string{"127.0.0.1:1", "[::1]:2", "db.internal:50051"}); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"":                `static source needs at least one address`,
		"localhost":       `address "localhost": want host:port`,
		":80":             `address ":80": empty host`,
		"h:0":             `address "h:0": port must be 1-65535`,
		"h:http":          `address "h:http": port must be 1-65535`,
		"h:1,h:1":         `static address "h:1" listed twice`,
		"127.0.0.1:70000": `port must be 1-65535`,
	} {
		var addrs []string
		if in != "" {
			addrs = strings.Split(in, ",")
		}
		_, err := NewStatic(addrs)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewStatic(%q) = %v, want %q", in, err, want)
		}
	}
}

// countingHealth is a real gRPC server whose health Check counts calls.
func countingHealth(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	s := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		n.Add(1)
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(s, health.NewServer())
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String(), &n
}

func TestResolverBalancesOverPushedEndpoints(t *testing.T) {
	a, na := countingHealth(t)
	b, nb := countingHealth(t)
	src, err := NewStatic([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	res := NewResolver("test-upstream")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Watch(ctx, func(u Update) { res.Update(u.Endpoints) }) }()
	defer func() { cancel(); <-done }()

	conn, err := grpc.NewClient(res.Target(), res.DialOption(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(ServiceConfig("round_robin", false)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	check := func() {
		t.Helper()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.Check(cctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		ccancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Until both connections are up, round_robin has one to pick; on a
	// loaded machine the second may take many calls to come up.
	deadline := time.Now().Add(10 * time.Second)
	for na.Load() == 0 || nb.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("one endpoint never got a call: %d and %d", na.Load(), nb.Load())
		}
		check()
	}
	a0, b0 := na.Load(), nb.Load()
	for range 40 {
		check()
	}
	// Both connected, round_robin alternates: 20 each, with slack for a
	// connection that blips.
	if da, db := na.Load()-a0, nb.Load()-b0; da < 15 || db < 15 {
		t.Fatalf("calls not spread: %d and %d", da, db)
	}

	// No endpoints: calls fail fast with UNAVAILABLE, not with an old endpoint.
	res.Update(nil)
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if status.Code(err) == codes.Unavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with no endpoints: %v", err)

		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServiceConfig(t *testing.T) {
	for in, want := range map[string]string{
		"":              `{"loadBalancingConfig":[{"round_robin":{}}]}`,
		"pick_first":    `{"loadBalancingConfig":[{"pick_first":{}}]}`,
		"least_request": `{"loadBalancingConfig":[{"least_request_experimental":{}}]}`,
	} {
		if got := ServiceConfig(in, false); got != want {
			t.Errorf("ServiceConfig(%q) = %s", in, got)
		}
	}
	if got, want := ServiceConfig("round_robin", true), `{"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}}`; got != want {
		t.Errorf("with health checks: %s", got)
	}
}
