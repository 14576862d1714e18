// Command library-server-v2 runs the example LibraryService as a newer build would:
// the same API plus GetServerVersion. Run it beside library-server to try a rolling
// deploy through refract (see examples/consul/README.md).
//
//	go run ./examples/cmd/library-server-v2 -addr 127.0.0.1:50061
package main

import (
	"context"
	"os"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/cmd/internal/serve"
)

func main() {
	os.Exit(serve.Main(context.Background(), "library-server-v2", "127.0.0.1:50061", examples.StartLibraryV2, os.Args[1:], os.Stderr))
}
