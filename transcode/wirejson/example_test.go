package wirejson_test

import (
	"fmt"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/transcode/wirejson"
)

// Compile a message type once, then decode JSON to wire bytes (what a gRPC
// call sends) and render wire bytes back as JSON, with no message built in
// between.
func Example() {
	md := (&librarypb.Book{}).ProtoReflect().Descriptor()
	book, err := wirejson.NewCompiler().Message(md)
	if err != nil {
		fmt.Println("not covered:", err)
		return
	}
	in := []byte(`{"title":"Dune","pageCount":"412","publish_time":"1965-08-01T00:00:00Z","tags":["sf"],"rating":4.5}`)
	wire, err := book.AppendWire(nil, in, wirejson.DecodeOptions{MaxDepth: 64})
	if err != nil {
		fmt.Println("bad request:", err)
		return
	}
	var enc wirejson.Encoder // reusable scratch; one per goroutine
	out, err := enc.AppendJSON(nil, book, wire, wirejson.EncodeOptions{})
	if err != nil {
		fmt.Println("bad response:", err)
		return
	}
	fmt.Printf("%d wire bytes\n%s\n", len(wire), out)
	// Output:
	// 37 wire bytes
	// {"title":"Dune","pageCount":"412","publishTime":"1965-08-01T00:00:00Z","tags":["sf"],"rating":4.5}
}
