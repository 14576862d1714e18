package examples_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// A test that needs a real backend starts one on a free loopback port and stops it
// when done.
func ExampleStartLibrary() {
	b, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Stop()

	conn, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	book, err := librarypb.NewLibraryServiceClient(conn).GetBook(context.Background(),
		&librarypb.GetBookRequest{Name: "authors/ursula-k-le-guin/books/1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(book.GetName(), book.GetTitle())
	// Output: shelves/1/books/1 The Left Hand of Darkness
}
