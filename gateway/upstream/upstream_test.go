package upstream

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// failing is a library backend whose every GetShelf fails with
// UNAVAILABLE, and that counts the calls it receives.
type failing struct {
	*examples.Backend
	mu    sync.Mutex
	calls int
}

func startFailing(t *testing.T) *failing {
	t.Helper()
	f := &failing{}
	b, err := examples.StartLibrary("127.0.0.1:0", grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if !strings.HasSuffix(info.FullMethod, "/GetShelf") {
				return h(ctx, req)
			}
			f.mu.Lock()
			f.calls++
			f.mu.Unlock()
			return nil, status.Error(codes.Unavailable, "injected failure")
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	f.Backend = b
	return f
}

func (f *failing) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// retryServiceConfig is a grpc-go service config with its own retry
// policy for the library: 4 attempts on UNAVAILABLE.
const retryServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}],
  "methodConfig":[{"name":[{"service":"library.v1.LibraryService"}],
    "retryPolicy":{"maxAttempts":4,"initialBackoff":"0.001s","maxBackoff":"0.002s",
      "backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`

// grpc-go's retry policy never stacks on the gateway's: every upstream
// connection is dialled with retries disabled, so even a service config
// carrying a retry policy (here as a dial option; from a resolver alike)
// makes one call per try.
func TestGrpcRetryPolicyNeverStacks(t *testing.T) {
	b := startFailing(t)
	call := func(conn *grpc.ClientConn) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := conn.Invoke(ctx, "/library.v1.LibraryService/GetShelf", &emptypb.Empty{}, &emptypb.Empty{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("GetShelf: %v, want UNAVAILABLE", err)
		}
	}

	// The control: the same service config on a plain connection retries,
	// so the policy below is one grpc-go would follow.
	plain, err := grpc.NewClient("passthrough:///"+b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(retryServiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	call(plain)
	if n := b.n(); n != 4 {
		t.Fatalf("a plain connection with the retry policy made %d calls, want 4", n)
	}

	opts := Options{Name: "library", Balancer: "round_robin",
		DialOptions: []grpc.DialOption{grpc.WithDefaultServiceConfig(retryServiceConfig)}}
	u, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.resolver.Update(endpointsOf([]string{b.Addr}))
	call(u.conn)
	if n := b.n(); n != 4+1 {
		t.Fatalf("an upstream connection made %d calls, want 1: grpc-go retried under the gateway", n-4)
	}

	// Subset connections are dialled the same way.
	opts.Subsets = []SubsetOptions{{Name: "canary", Static: []string{b.Addr}}}
	u2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer u2.Close()
	call(u2.Subset("canary").Conn())
	if n := b.n(); n != 4+1+1 {
		t.Fatalf("a subset connection made %d calls, want 1: grpc-go retried under the gateway", n-5)
	}
}
