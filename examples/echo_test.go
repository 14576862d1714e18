package examples

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/refract-gateway/refract/examples/echo/echopb"
)

func echoClient(t *testing.T) echopb.EchoServiceClient {
	t.Helper()
	_, conn := startBackend(t, StartEcho)
	return echopb.NewEchoServiceClient(conn)
}

func TestEcho(t *testing.T) {
	c := echoClient(t)
	ok := []struct {
		req  *echopb.EchoRequest
		want string
	}{
		{&echopb.EchoRequest{Message: "hello"}, "hello"},
		{&echopb.EchoRequest{Message: "hello", Repeat: 1}, "hello"},
		{&echopb.EchoRequest{Message: "ho", Repeat: 3}, "ho ho ho"},
		{&echopb.EchoRequest{Message: "ünï €"}, "ünï €"},
	}
	for _, tc := range ok {
		resp, err := c.Echo(t.Context(), tc.req)
		if err != nil {
			t.Fatalf("Echo(%v): %v", tc.req, err)
		}
		equal(t, "Echo", resp, &echopb.EchoResponse{Message: tc.want})
	}

	bad := []struct {
		req    *echopb.EchoRequest
		fields []string
	}{
		{&echopb.EchoRequest{}, []string{"message"}},
		{&echopb.EchoRequest{Message: "x", Repeat: -1}, []string{"repeat"}},
		{&echopb.EchoRequest{Repeat: 101}, []string{"message", "repeat"}},
	}
	for _, tc := range bad {
		_, err := c.Echo(t.Context(), tc.req)
		br := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument))
		var fields []string
		for _, v := range br.GetFieldViolations() {
			fields = append(fields, v.GetField())
		}
		if len(fields) != len(tc.fields) || fields[0] != tc.fields[0] || fields[len(fields)-1] != tc.fields[len(tc.fields)-1] {
			t.Fatalf("Echo(%v) violations on %v, want %v", tc.req, fields, tc.fields)
		}
	}
}

func TestEchoExpand(t *testing.T) {
	c := echoClient(t)

	began := time.Now()
	stream, err := c.Expand(t.Context(), &echopb.ExpandRequest{Text: "tick", Count: 3, IntervalMs: 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(3) {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		equal(t, "Expand response", resp, &echopb.EchoResponse{Message: "tick", Index: i})
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after count responses = %v, want io.EOF", err)
	}
	if took := time.Since(began); took < 40*time.Millisecond {
		t.Fatalf("3 responses 20ms apart took %v, want at least 40ms", took)
	}

	// count 0 is an empty stream, not an error.
	empty, err := c.Expand(t.Context(), &echopb.ExpandRequest{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv on count 0 = %v, want io.EOF", err)
	}

	invalid, err := c.Expand(t.Context(), &echopb.ExpandRequest{Count: 1001, IntervalMs: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = invalid.Recv()
	br := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument))
	if n := len(br.GetFieldViolations()); n != 3 {
		t.Fatalf("violations = %v, want text, count and interval_ms", br.GetFieldViolations())
	}
}

// TestEchoExpandCancel checks that a cancelled Expand stops waiting at once instead of
// sleeping through its interval.
func TestEchoExpandCancel(t *testing.T) {
	c := echoClient(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := c.Expand(ctx, &echopb.ExpandRequest{Text: "slow", Count: 5, IntervalMs: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	cancel()
	_, err = stream.Recv()
	wantCode(t, err, codes.Canceled)
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("cancel took %v", took)
	}
	// The backend's Stop (in cleanup) must not wait the 10s interval either; goleak in
	// TestMain catches a handler goroutine left sleeping.
}

func TestEchoCollect(t *testing.T) {
	c := echoClient(t)

	stream, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []*echopb.EchoRequest{{Message: "a"}, {Message: "b", Repeat: 2}, {Message: "c"}} {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Collect", resp, &echopb.EchoResponse{Message: "a b b c", Index: 3})

	none, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	resp, err = none.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Collect of nothing", resp, &echopb.EchoResponse{})

	bad, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Send(&echopb.EchoRequest{Message: "ok"}); err != nil {
		t.Fatal(err)
	}
	_ = bad.Send(&echopb.EchoRequest{}) // may fail once the server has ended the call
	_, err = bad.CloseAndRecv()
	wantCode(t, err, codes.InvalidArgument)
}

func TestEchoChat(t *testing.T) {
	c := echoClient(t)

	stream, err := c.Chat(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Each answer arrives before the next request is sent: the server answers per
	// message rather than at the end.
	for i, msg := range []string{"one", "two", "three"} {
		if err := stream.Send(&echopb.EchoRequest{Message: msg}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "Chat", resp, &echopb.EchoResponse{Message: msg, Index: int32(i)})
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after CloseSend = %v, want io.EOF", err)
	}

	bad, err := c.Chat(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Send(&echopb.EchoRequest{Message: "x", Repeat: 500}); err != nil {
		t.Fatal(err)
	}
	_, err = bad.Recv()
	br := detail[*errdetails.BadRequest](t, wantCode(t, err, codes.InvalidArgument))
	if br.GetFieldViolations()[0].GetField() != "repeat" {
		t.Fatalf("violations = %v", br.GetFieldViolations())
	}
}
