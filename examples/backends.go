package examples

import (
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/refract-gateway/refract/examples/echo"
	"github.com/refract-gateway/refract/examples/echo/echopb"
	"github.com/refract-gateway/refract/examples/library"
	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// defaultStopGrace is how long Stop lets in-flight calls finish before it cuts them
// off. An open bidirectional stream never finishes on its own, and a test that left
// one open should not hang its cleanup forever.
const defaultStopGrace = 5 * time.Second

// Backend is a running example gRPC server with reflection (v1 and v1alpha) and the
// standard health service (grpc.health.v1.Health, reporting SERVING for "" and for
// the example service until Stop). Its methods are safe for concurrent use.
type Backend struct {
	// Addr is the host:port actually bound, e.g. "127.0.0.1:39123" for a request of
	// "127.0.0.1:0".
	Addr string

	server  *grpc.Server
	service string
	health  *health.Server
	grace   time.Duration

	served   chan struct{} // closed when Serve has returned
	serveErr error         // Serve's result; read only after served is closed

	stopOnce sync.Once
	stopped  chan struct{} // closed when Stop has finished
}

// StartLibrary starts a LibraryService backend, with a fresh copy of the seed data,
// listening on addr ("127.0.0.1:0" picks a free port). opts are passed to
// grpc.NewServer, e.g. interceptors or credentials.
func StartLibrary(addr string, opts ...grpc.ServerOption) (*Backend, error) {
	return start(addr, librarypb.LibraryService_ServiceDesc.ServiceName, func(s *grpc.Server) {
		librarypb.RegisterLibraryServiceServer(s, library.NewService())
		reflection.Register(s)
	}, opts)
}

// StartEcho starts an EchoService backend listening on addr ("127.0.0.1:0" picks a
// free port). opts are passed to grpc.NewServer.
func StartEcho(addr string, opts ...grpc.ServerOption) (*Backend, error) {
	return start(addr, echopb.EchoService_ServiceDesc.ServiceName, func(s *grpc.Server) {
		echopb.RegisterEchoServiceServer(s, echo.NewService())
		reflection.Register(s)
	}, opts)
}

// start listens on addr and serves one example service there, with health, in a new
// goroutine; register registers the service and reflection.
func start(addr, service string, register func(*grpc.Server), opts []grpc.ServerOption) (*Backend, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("examples: start %s: %w", service, err)
	}
	srv := grpc.NewServer(opts...)
	// register calls reflection.Register, which serves both reflection versions, so
	// clients that only speak v1alpha (older grpcurl, older gateways) can read the
	// descriptors too.
	register(srv)
	hs := health.NewServer() // reports SERVING for "" from the start
	hs.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)

	b := &Backend{
		Addr:    lis.Addr().String(),
		server:  srv,
		service: service,
		health:  hs,
		grace:   defaultStopGrace,
		served:  make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go func() {
		b.serveErr = srv.Serve(lis) // closes lis when it returns
		close(b.served)
	}()
	return b, nil
}

// Stop stops the backend gracefully and returns when it has stopped: health turns
// NOT_SERVING, new calls are refused, and calls in flight get up to 5 seconds to
// finish before they are cancelled. Calling Stop again, or concurrently, waits for
// the same stop.
func (b *Backend) Stop() {
	b.stopOnce.Do(func() {
		defer close(b.stopped)
		b.health.Shutdown()
		graceful := make(chan struct{})
		go func() {
			b.server.GracefulStop()
			close(graceful)
		}()
		t := time.NewTimer(b.grace)
		defer t.Stop()
		select {
		case <-graceful:
		case <-t.C:
			b.server.Stop() // cancels what is left; GracefulStop then returns too
			<-graceful
		}
		<-b.served
	})
	<-b.stopped
}

// SetServing sets the health status the backend reports for "" and for its
// service: SERVING or NOT_SERVING (until Stop, which reports NOT_SERVING for good).
func (b *Backend) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	b.health.SetServingStatus("", st)
	b.health.SetServingStatus(b.service, st)
}

// Done is closed when the backend has stopped serving: after Stop, or when serving
// failed on its own (see Err).
func (b *Backend) Done() <-chan struct{} { return b.served }

// Err returns why the backend stopped serving: nil while it serves and after Stop, and
// the listener's error if serving failed on its own.
func (b *Backend) Err() error {
	select {
	case <-b.served:
		return b.serveErr
	default:
		return nil
	}
}
