package leanunary

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/echo"
	"github.com/refract-gateway/refract/examples/echo/echopb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// mdEcho answers with the request's metadata key "x-tag" as header and
// trailer, and fails on demand.
type mdEcho struct {
	echopb.UnimplementedEchoServiceServer
	inner *echo.Service
}

func (s mdEcho) Echo(ctx context.Context, req *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-tag"); len(v) > 0 {
		grpc.SetHeader(ctx, metadata.Pairs("x-tag", v[0]))
		grpc.SetTrailer(ctx, metadata.Pairs("x-trail", v[0], "x-bin-bin", "\x00\x01"))
	}
	if req.GetMessage() == "sleep" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.inner.Echo(ctx, req)
}

func startEcho(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	echopb.RegisterEchoServiceServer(srv, mdEcho{inner: echo.NewService()})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestInvoke(t *testing.T) {
	addr := startEcho(t)
	p := New(Options{Dial: tcpDial})
	defer p.Close()
	p.SetEndpoints([]string{addr})
	waitReady(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var header, trailer metadata.MD
	var pr peer.Peer
	resp := new(echopb.EchoResponse)
	err := p.Invoke(ctx, "/echo.v1.EchoService/Echo", &echopb.EchoRequest{Message: strings.Repeat("ab", 40000)}, resp,
		Metadata(metadata.Pairs("x-tag", "t1")), grpc.Header(&header), grpc.Trailer(&trailer), grpc.Peer(&pr))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetMessage()) != 80000 || header.Get("x-tag")[0] != "t1" || trailer.Get("x-trail")[0] != "t1" ||
		trailer.Get("x-bin-bin")[0] != "\x00\x01" || pr.Addr.String() != addr {
		t.Fatalf("resp %d bytes, header %v, trailer %v, peer %v", len(resp.GetMessage()), header, trailer, pr.Addr)
	}

	err = p.Invoke(ctx, "/echo.v1.EchoService/Nope", &echopb.EchoRequest{Message: "x"}, resp)
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method: %v", err)
	}

	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	err = p.Invoke(short, "/echo.v1.EchoService/Echo", &echopb.EchoRequest{Message: "sleep"}, resp)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("deadline: %v", err)
	}
	for i := 0; i < 100; i++ {
		if err := p.Invoke(ctx, "/echo.v1.EchoService/Echo", &echopb.EchoRequest{Message: "again"}, resp); err != nil || resp.GetMessage() != "again" {
			t.Fatalf("call %d: %v %v", i, err, resp)
		}
	}
}

func tcpDial(ctx context.Context, addr string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
}
