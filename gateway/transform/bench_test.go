package transform

import (
	"net/http/httptest"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// BenchmarkEdits measures each transformation kind alone, on the bytes
// and body of a real library call (CreateBook's request, a Book
// response): the cost a route pays per request for it.
func BenchmarkEdits(b *testing.B) {
	svc := librarypb.File_library_v1_library_proto.Services().Get(0)
	create := svc.Methods().ByName("CreateBook")
	bindings, err := transcode.Compile(create, transcode.Rules(create), transcode.Options{})
	if err != nil {
		b.Fatal(err)
	}
	codec, err := transcode.NewCodec(nil)
	if err != nil {
		b.Fatal(err)
	}
	reqBytes, _ := proto.Marshal(&librarypb.CreateBookRequest{Parent: "shelves/1", BookId: "b1",
		Book: &librarypb.Book{Title: "Dune", Author: "mallory", PageCount: 412, Tags: []string{"a", "b"}, Labels: map[string]string{"k": "v"}}})
	respBytes, _ := proto.Marshal(&librarypb.Book{Name: "shelves/1/books/b1", Title: "Dune", Author: "alice", PageCount: 412,
		Tags: []string{"a", "b"}, Labels: map[string]string{"k": "v"}, Checksum: []byte{1, 2, 3}})
	body := []byte(`{"name":"shelves/1/books/b1","title":"Dune","author":"alice","genre":"GENRE_UNSPECIFIED","pageCount":"412","tags":["a","b"],"labels":{"k":"v"},"checksum":"AQID","locked":false}`)
	wire := func(data []byte) *transcode.WireMessage {
		m := &transcode.WireMessage{}
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, m); err != nil {
			b.Fatal(err)
		}
		return m
	}
	r := httptest.NewRequest("POST", "/v1/shelves/1/books", nil)
	r.Header.Set("X-User", "alice")
	w := httptest.NewRecorder()
	for _, bc := range []struct {
		name string
		spec Spec
		run  func(*Route)
	}{
		{"request-set-header", Spec{Set: []FieldSet{{Field: "book.author", From: Source{FromHeader, "X-User"}}}}, nil},
		{"request-set-const", Spec{Set: []FieldSet{{Field: "book.page_count", From: Source{FromConst, "7"}}}}, nil},
		{"request-set-field", Spec{Set: []FieldSet{{Field: "book.original_title", From: Source{FromField, "book.title"}}}}, nil},
		{"request-remove", Spec{Remove: []string{"book_id", "book.labels"}}, nil},
		{"metadata-set", Spec{Metadata: MetadataEdits{Set: []MetadataSet{{Key: "x-user", From: Source{FromHeader, "X-User"}}}, Remove: []string{"x-debug"}}}, func(t *Route) {
			t.Metadata(metadata.MD{"x-debug": {"1"}, "x-forwarded-for": {"127.0.0.1"}}, r, nil)
		}},
		{"response-headers", Spec{Headers: HeaderEdits{Set: []Pair{{"Cache-Control", "no-store"}}, Remove: []string{"Grpc-Metadata-X-Served-By"}}}, func(t *Route) {
			t.applyHeaders(w.Header())
		}},
		{"response-omit-wire", Spec{Omit: []string{"checksum", "labels"}}, func(t *Route) {
			resp, _ := t.Response(w, wire(respBytes), codec)
			resp.(*transcode.WireMessage).Release()
		}},
		{"response-omit-json", Spec{Omit: []string{"checksum", "labels"}}, func(t *Route) { t.Body(body) }},
		{"response-rename", Spec{Rename: []Pair{{"title", "headline"}}}, func(t *Route) { t.Body(body) }},
		{"response-envelope", Spec{Envelope: "data"}, func(t *Route) { t.Body(body) }},
		{"error-template", Spec{Status: map[codes.Code]int{codes.NotFound: 410}, ErrorBody: `{"error":"${status}","message":"${message}"}`}, func(t *Route) {
			t.Error(httptest.NewRecorder(), codes.NotFound, `book "shelves/1/books/x" not found`, 404)
		}},
	} {
		run := bc.run
		rt, err := Compile(&bc.spec, bindings[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		if run == nil {
			run = func(rt *Route) {
				req, ok := rt.Request(w, wire(reqBytes), r, codec)
				if !ok {
					b.Fatal("refused")
				}
				req.(*transcode.WireMessage).Release()
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				run(rt)
			}
		})
	}
}
