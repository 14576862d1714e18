package transcode

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// dyn converts a generated message into a dynamic one, as responses arrive.
func dyn(t *testing.T, m proto.Message) proto.Message {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := dynamicpb.NewMessage(m.ProtoReflect().Descriptor())
	if err := proto.Unmarshal(raw, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEncodeResponse(t *testing.T) {
	book := &librarypb.Book{Name: "shelves/1/books/1", Title: "T", PageCount: 12, OriginalTitle: "O", Availability: &librarypb.Book_InStock{InStock: true}}
	tests := []struct {
		name, method, tmpl string
		opts               Options
		resp               proto.Message
		wantBody, wantCT   string
	}{
		{
			name: "json names, unpopulated emitted", method: "GetShelf", tmpl: "/v1/{name=shelves/*}",
			resp:     &librarypb.Shelf{Name: "shelves/1", BookCount: 3},
			wantBody: `{"name":"shelves/1","theme":"","bookCount":"3","createTime":null}`, wantCT: "application/json",
		},
		{
			name: "proto names, unpopulated omitted", method: "GetBook", tmpl: "/v1/{name=shelves/*/books/*}",
			opts: Options{UseProtoNames: true, OmitUnpopulated: true}, resp: book,
			wantBody: `{"name":"shelves/1/books/1","title":"T","page_count":"12","original_title":"O","in_stock":true}`, wantCT: "application/json",
		},
		{
			name: "custom json_name", method: "GetBook", tmpl: "/v1/{name=shelves/*/books/*}",
			opts: Options{OmitUnpopulated: true}, resp: book,
			wantBody: `{"name":"shelves/1/books/1","title":"T","pageCount":"12","titleOriginal":"O","inStock":true}`, wantCT: "application/json",
		},
		{
			name: "response_body scalar", method: "GetBookTitle", tmpl: "/v1/{name=shelves/*/books/*}/title",
			resp: &librarypb.BookTitle{Title: "The Dispossessed", Subtitle: "An Ambiguous Utopia"}, wantBody: `"The Dispossessed"`, wantCT: "application/json",
		},
		{
			name: "response_body scalar unset", method: "GetBookTitle", tmpl: "/v1/{name=shelves/*/books/*}/title",
			opts: Options{OmitUnpopulated: true}, resp: &librarypb.BookTitle{}, wantBody: `""`, wantCT: "application/json",
		},
		{
			name: "HttpBody response", method: "GetBookCover", tmpl: "/v1/{name=shelves/*/books/*}/cover",
			resp: &httpbody.HttpBody{ContentType: "image/svg+xml", Data: []byte("<svg/>")}, wantBody: "<svg/>", wantCT: "image/svg+xml",
		},
		{
			name: "Empty", method: "DeleteShelf", tmpl: "/v1/{name=shelves/*}",
			resp: &librarypb.Shelf{}, wantBody: `{}`, wantCT: "application/json",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bindingFor(t, tc.method, tc.tmpl, tc.opts)
			resp := b.NewResponse()
			if tc.method != "DeleteShelf" {
				raw, _ := proto.Marshal(tc.resp)
				if err := proto.Unmarshal(raw, resp); err != nil {
					t.Fatal(err)
				}
			}
			body, ct, err := b.EncodeResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if compact(t, body, ct) != tc.wantBody || ct != tc.wantCT {
				t.Fatalf("got %s (%s)\nwant %s (%s)", body, ct, tc.wantBody, tc.wantCT)
			}
		})
	}
}

func TestResponseBodyMessageField(t *testing.T) {
	md := libraryMethod(t, "ListBooks")
	rule := &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{parent=shelves/*}/books"}, ResponseBody: "books"}
	bs, err := Compile(md, rule, Options{OmitUnpopulated: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := bs[0].EncodeResponse(dyn(t, &librarypb.ListBooksResponse{Books: []*librarypb.Book{{Title: "a"}, {Title: "b"}}, NextPageToken: "n"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"title":"a"},{"title":"b"}]`; compact(t, body, "application/json") != want {
		t.Fatalf("got %s, want %s", body, want)
	}
}

// compact removes the whitespace protojson inserts at random (on purpose, so
// that nobody depends on its exact output).
func compact(t *testing.T, body []byte, ct string) string {
	t.Helper()
	if ct != "application/json" {
		return string(body)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		t.Fatalf("invalid JSON %s: %v", body, err)
	}
	return buf.String()
}
