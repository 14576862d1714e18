// Command accounts-server runs the example AccountsService, whose requests carry
// buf.validate rules that refract checks at the edge.
//
//	go run ./examples/cmd/accounts-server -addr 127.0.0.1:50054
package main

import (
	"context"
	"os"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/cmd/internal/serve"
)

func main() {
	os.Exit(serve.Main(context.Background(), "accounts-server", "127.0.0.1:50054", examples.StartAccounts, os.Args[1:], os.Stderr))
}
