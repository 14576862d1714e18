package gateway_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestBackendStatusPassesThrough: a DEADLINE_EXCEEDED or UNAVAILABLE the
// backend itself returned reaches the client with the backend's message
// and details unchanged; the gateway's own words ("did not answer
// within", "unavailable:") are kept for the failures it produced.
func TestBackendStatusPassesThrough(t *testing.T) {
	lib := startLibrary(t, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		var code codes.Code
		switch info.FullMethod {
		case "/library.v1.LibraryService/GetShelf":
			code = codes.DeadlineExceeded
		case "/library.v1.LibraryService/ListShelves":
			code = codes.Unavailable
		case "/library.v1.LibraryService/GetBook":
			<-ctx.Done() // hangs past the gateway's timeout
			return nil, ctx.Err()
		default:
			return h(ctx, req)
		}
		st, err := status.New(code, "x").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}))
	h := startGateway(t, libraryConfig(lib.Addr, "    timeout: 200ms\n"))
	const retry = `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}`
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 504)
	jsonEq(t, r.body, `{"code":4,"message":"x","details":[`+retry+`]}`)
	r = h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	jsonEq(t, r.body, `{"code":14,"message":"x","details":[`+retry+`]}`)
	// The gateway's own timeout keeps its words.
	// (grpc-go words the cause as the deadline or as the stream's reset,
	// whichever it sees first.)
	r = h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 504)
	if msg := field(t, r.body, "message").(string); msg != `upstream "library" did not answer within 200ms: context deadline exceeded` &&
		msg != `upstream "library" did not answer within 200ms: stream terminated by RST_STREAM with error code: CANCEL` {
		t.Fatalf("the gateway's own timeout: %s", r.body)
	}
	// No connection at all: the gateway's words too.
	lib.Stop()
	r = h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	if msg := field(t, r.body, "message").(string); !plainUnavailable(msg) {
		t.Fatalf("refused connection: %s", r.body)
	}
}
