package transcode

import (
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func benchBook() *librarypb.Book {
	return &librarypb.Book{
		Name: "shelves/1/books/1", Title: "The Left Hand of Darkness", Author: "Ursula K. Le Guin",
		Genre: librarypb.Genre_FICTION, PageCount: 304, PublishTime: timestamppb.New(timestamppb.Now().AsTime()),
		ReadTime: durationpb.New(34200e9), Tags: []string{"classic", "science-fiction", "hainish"},
		Labels: map[string]string{"language": "en", "series": "Hainish Cycle"}, Rating: wrapperspb.Double(4.5),
		Checksum: []byte{0xde, 0xad, 0xbe, 0xef}, Availability: &librarypb.Book_InStock{InStock: true},
	}
}

// BenchmarkDecodeBodyField decodes a CreateBook call: path variable, query
// parameter and a ~400-byte body field.
func BenchmarkDecodeBodyField(b *testing.B) {
	bd := bindingFor(b, "CreateBook", "/v1/{parent=shelves/*}/books", Options{})
	body, _ := bd.marshal.Marshal(benchBook())
	in := Request{Vars: []string{"shelves/1"}, RawQuery: "book_id=x", Body: body, ContentType: "application/json"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bd.DecodeRequest(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeQuery decodes a GET with a path variable and five query
// parameters of different kinds.
func BenchmarkDecodeQuery(b *testing.B) {
	bd := bindingFor(b, "ListBooks", "/v1/{parent=shelves/*}/books", Options{})
	in := Request{Vars: []string{"shelves/1"}, RawQuery: "page_size=10&genre=FICTION&tags=a&tags=b&published_after=2020-01-01T00:00:00Z&filter.author=x"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bd.DecodeRequest(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeResponse renders a Book response.
func BenchmarkEncodeResponse(b *testing.B) {
	bd := bindingFor(b, "GetBook", "/v1/{name=shelves/*/books/*}", Options{})
	raw, _ := proto.Marshal(benchBook())
	resp := bd.NewResponse()
	if err := proto.Unmarshal(raw, resp); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := bd.EncodeResponse(resp)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}
