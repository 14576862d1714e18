// Command backend is the benchmark's gRPC server, with server reflection on:
// Echo returns what it is sent, Lookup builds a small Payload from the
// request, Feed streams count Items. It does as little as it can, so that
// the gateways in front of it are what the benchmark measures.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/refract-gateway/refract/bench"
	"github.com/refract-gateway/refract/bench/benchpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "gRPC listener host:port")
	flag.Parse()
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	benchpb.RegisterBenchServiceServer(srv, service{})
	reflection.Register(srv)
	// The driver reads the address from the first line of stdout.
	fmt.Println(lis.Addr().String())
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		srv.Stop()
	}()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

type service struct {
	benchpb.UnimplementedBenchServiceServer
}

func (service) Echo(_ context.Context, p *benchpb.Payload) (*benchpb.Payload, error) {
	return p, nil
}

func (service) Lookup(_ context.Context, r *benchpb.LookupRequest) (*benchpb.Payload, error) {
	return bench.LookupResponse(r), nil
}

func (service) Feed(r *benchpb.FeedRequest, s grpc.ServerStreamingServer[benchpb.Item]) error {
	if r.Count < 0 || r.Count > 1_000_000 {
		return status.Errorf(codes.InvalidArgument, "count %d out of range", r.Count)
	}
	for i := range r.Count {
		if err := s.Send(bench.FeedItem(i)); err != nil {
			return err
		}
	}
	return nil
}
