// Command library-server runs the example LibraryService (library.v1) with gRPC
// server reflection and health, for refract to discover and route to.
//
//	go run ./examples/cmd/library-server -addr 127.0.0.1:50051
package main

import (
	"context"
	"os"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/cmd/internal/serve"
)

func main() {
	os.Exit(serve.Main(context.Background(), "library-server", "127.0.0.1:50051", examples.StartLibrary, os.Args[1:], os.Stderr))
}
