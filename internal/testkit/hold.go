package testkit

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// HoldKey is the metadata key that marks a call for Hold. Through the
// gateway an HTTP client sets it with the Grpc-Metadata-X-Hold header.
const HoldKey = "x-hold"

// Hold keeps the unary calls that carry HoldKey metadata inside a gRPC
// server until Release, so that requests stay in flight for as long as a
// test needs without a sleep. Calls without the key pass straight through.
// Safe for concurrent use.
type Hold struct {
	// Arrived receives a value for each held call as it arrives. Its
	// capacity (NewHold's) is how many calls may arrive unread before
	// further ones block in the interceptor.
	Arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// NewHold returns a hold that is not released, with room in Arrived for
// capacity calls. Tests defer Release, so that a failing test does not
// leave calls held until a server's shutdown grace ends.
func NewHold(capacity int) *Hold {
	return &Hold{Arrived: make(chan struct{}, capacity), release: make(chan struct{})}
}

// Release lets every held call, and every later one, go on. Calling it
// again does nothing.
func (h *Hold) Release() { h.once.Do(func() { close(h.release) }) }

// Interceptor is a grpc.UnaryServerInterceptor (install it with
// grpc.UnaryInterceptor). A held call whose context ends before Release
// returns the context's error without reaching the handler.
func (h *Hold) Interceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get(HoldKey)) > 0 {
		h.Arrived <- struct{}{}
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return handler(ctx, req)
}
