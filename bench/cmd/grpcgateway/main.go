// Command grpcgateway is the peer of the benchmark: grpc-gateway v2 serving
// the handlers generated from proto/bench/v1/bench.proto, set up the way its
// documentation sets it up (runtime.NewServeMux with its default marshaler,
// RegisterBenchServiceHandlerFromEndpoint over an insecure connection).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/refract-gateway/refract/bench/benchpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HTTP listener host:port")
	backend := flag.String("backend", "", "gRPC backend host:port")
	profile := flag.String("cpuprofile", "", "write a CPU profile here until stopped (for the benchmark's comparison)")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "grpcgateway:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "grpcgateway:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "grpcgateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen, backend string) error {
	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := benchpb.RegisterBenchServiceHandlerFromEndpoint(ctx, mux, backend, opts); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// The driver reads the address from the first line of stdout.
	fmt.Println(lis.Addr().String())
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(lis); err != http.ErrServerClosed {
		return err
	}
	return nil
}
