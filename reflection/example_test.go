package reflection_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcreflection "google.golang.org/grpc/reflection"
	"google.golang.org/grpc/reflection/grpc_testing"
)

// searchBackend is what a backend team runs: a gRPC server with reflection
// enabled by one line. It serves grpc.testing.SearchService.
func searchBackend() (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := grpc.NewServer()
	grpc_testing.RegisterSearchServiceServer(s, grpc_testing.UnimplementedSearchServiceServer{})
	grpcreflection.Register(s) // the one line
	go func() { _ = s.Serve(lis) }()
	return lis.Addr().String(), s.Stop, nil
}

// The gateway adds each upstream's connection to a Cache, subscribes to
// rebuild its routes whenever an upstream's schema changes, and serves
// requests from Snapshot, which never blocks.
func ExampleCache() {
	addr, stop, err := searchBackend()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	cache, err := reflection.NewCache(reflection.Options{RefreshInterval: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close()

	changed := make(chan *reflection.Snapshot, 1)
	unsubscribe := cache.Subscribe(func(upstream string, snap *reflection.Snapshot) {
		changed <- snap // a real gateway rebuilds its route table here
	})
	defer unsubscribe()

	if err := cache.Add("search", conn); err != nil { // returns at once; fetched in the background
		fmt.Println(err)
		return
	}
	snap := <-changed
	for _, sd := range snap.Services {
		fmt.Println(sd.FullName())
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			fmt.Printf("  %s(%s) returns (%s)\n", md.Name(), md.Input().FullName(), md.Output().FullName())
		}
	}
	st := cache.Stats()[0]
	fmt.Println(st.Upstream, st.State, st.Methods, "methods")
	fmt.Println(cache.Snapshot("search") == snap)
	// Output:
	// grpc.testing.SearchService
	//   Search(grpc.testing.SearchRequest) returns (grpc.testing.SearchResponse)
	//   StreamingSearch(grpc.testing.SearchRequest) returns (grpc.testing.SearchResponse)
	// search ready 2 methods
	// true
}

// Fetch does one fetch without a cache, as a CLI would.
func ExampleFetch() {
	addr, stop, err := searchBackend()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := reflection.Fetch(ctx, conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(snap.ServiceNames(), len(snap.Hash))
	// Output:
	// [grpc.testing.SearchService] 64
}
