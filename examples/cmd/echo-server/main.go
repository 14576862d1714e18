// Command echo-server runs the example EchoService (echo.v1) with gRPC server
// reflection and health, for refract to discover and route to.
//
//	go run ./examples/cmd/echo-server -addr 127.0.0.1:50052
package main

import (
	"context"
	"os"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/cmd/internal/serve"
)

func main() {
	os.Exit(serve.Main(context.Background(), "echo-server", "127.0.0.1:50052", examples.StartEcho, os.Args[1:], os.Stderr))
}
