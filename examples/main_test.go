package examples

import (
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// TestMain fails the run if a test leaves a server or client goroutine behind:
// Backend.Stop promises to wait for everything it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startBackend starts a backend on a free loopback port and a client connection to
// it, both closed when the test ends.
func startBackend(t *testing.T, start func(string, ...grpc.ServerOption) (*Backend, error)) (*Backend, *grpc.ClientConn) {
	t.Helper()
	b, err := start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(b.Stop)
	conn, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", b.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return b, conn
}

// wantCode fails the test unless err is a status with code, and returns the status.
func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return st
}

// detail returns the status's only detail of type T, failing the test if there is
// not exactly one.
func detail[T proto.Message](t *testing.T, st *status.Status) T {
	t.Helper()
	var found []T
	for _, d := range st.Details() {
		if m, ok := d.(T); ok {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("status %v has %d details of type %T, want 1 (all: %v)", st.Message(), len(found), zero, st.Details())
	}
	return found[0]
}

// equal fails the test unless got and want are equal protobuf messages.
func equal(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}
