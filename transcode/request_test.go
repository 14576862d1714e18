package transcode

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestDecodeRequest(t *testing.T) {
	ts := timestamppb.New(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	tests := []struct {
		name     string
		method   string
		tmpl     string
		path     string
		query    string
		body     string
		ctype    string
		strict   bool
		want     proto.Message
		wantErr  string
		wantCode codes.Code
	}{
		{
			name: "path variable", method: "GetShelf", tmpl: "/v1/{name=shelves/*}",
			path: "/v1/shelves/1", want: &librarypb.GetShelfRequest{Name: "shelves/1"},
		},
		{
			name: "multi-segment variable", method: "GetBook", tmpl: "/v1/{name=shelves/*/books/*}",
			path: "/v1/shelves/1/books/2", want: &librarypb.GetBookRequest{Name: "shelves/1/books/2"},
		},
		{
			name: "additional binding", method: "GetBook", tmpl: "/v1/{name=authors/*/books/*}",
			path: "/v1/authors/leguin/books/2", want: &librarypb.GetBookRequest{Name: "authors/leguin/books/2"},
		},
		{
			name: "query of every kind", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path:  "/v1/shelves/1/books",
			query: "pageSize=5&genre=HISTORY&tags=a&tags=b&published_after=2020-01-02T03:04:05Z&minRating=4.5&filter.author=Le+Guin&page_token=x",
			want: &librarypb.ListBooksRequest{
				Parent: "shelves/1", PageSize: 5, PageToken: "x", Genre: librarypb.Genre_HISTORY, Tags: []string{"a", "b"},
				PublishedAfter: ts, MinRating: wrapperspb.Double(4.5), Filter: &librarypb.BookFilter{Author: "Le Guin"},
			},
		},
		{
			name: "enum by number", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "genre=3",
			want: &librarypb.ListBooksRequest{Parent: "shelves/1", Genre: librarypb.Genre_SCIENCE},
		},
		{
			name: "query cannot override the path", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "parent=shelves/2",
			want: &librarypb.ListBooksRequest{Parent: "shelves/1"},
		},
		{
			name: "query for a path-bound field rejected when strict", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "parent=shelves/2", strict: true,
			wantCode: codes.InvalidArgument, wantErr: `query parameter "parent": field parent is bound by the path or body`,
		},
		{
			name: "query for a field inside the body field rejected when strict", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "book.title=Q", body: `{"title":"B"}`, strict: true,
			wantCode: codes.InvalidArgument, wantErr: `query parameter "book.title": field book is bound by the path or body`,
		},
		{
			name: "unknown query parameter ignored", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "nope=1&utm_source=x",
			want: &librarypb.ListBooksRequest{Parent: "shelves/1"},
		},
		{
			name: "unknown query parameter rejected when strict", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "nope=1", strict: true,
			wantCode: codes.InvalidArgument, wantErr: `query parameter "nope": unknown field: message library.v1.ListBooksRequest has no field "nope"`,
		},
		{
			name: "bad int", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "page_size=ten",
			wantCode: codes.InvalidArgument, wantErr: `query parameter "page_size": invalid value "ten" for field library.v1.ListBooksRequest.page_size: expected a 32-bit integer`,
		},
		{
			name: "bad enum", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "genre=POEM",
			wantCode: codes.InvalidArgument, wantErr: `query parameter "genre": invalid value "POEM" for field library.v1.ListBooksRequest.genre: expected a value of enum library.v1.Genre (GENRE_UNSPECIFIED, FICTION, HISTORY, SCIENCE, POETRY) or its number`,
		},
		{
			name: "bad timestamp", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "publishedAfter=yesterday",
			wantCode: codes.InvalidArgument, wantErr: `query parameter "publishedAfter": invalid value "yesterday" for field library.v1.ListBooksRequest.published_after: expected a Timestamp in its JSON form`,
		},
		{
			name: "scalar given twice", method: "ListBooks", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "page_size=1&page_size=2",
			wantCode: codes.InvalidArgument, wantErr: `query parameter "page_size": field library.v1.ListBooksRequest.page_size is not repeated but was given 2 times`,
		},
		{
			name: "body field plus path plus query", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "book_id=dune",
			body: `{"title":"Dune","page_count":"412","titleOriginal":"Dune","checksum":"AQID","labels":{"k":"v"},"inStock":true}`,
			want: &librarypb.CreateBookRequest{Parent: "shelves/1", BookId: "dune", Book: &librarypb.Book{
				Title: "Dune", PageCount: 412, OriginalTitle: "Dune", Checksum: []byte{1, 2, 3},
				Labels: map[string]string{"k": "v"}, Availability: &librarypb.Book_InStock{InStock: true},
			}},
		},
		{
			name: "int64 as number, url-safe base64, original name", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", body: `{"pageCount":412,"checksum":"-_8","original_title":"x"}`,
			want: &librarypb.CreateBookRequest{Parent: "shelves/1", Book: &librarypb.Book{PageCount: 412, Checksum: []byte{0xfb, 0xff}, OriginalTitle: "x"}},
		},
		{
			name: "query for a body-bound field ignored", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", query: "book.title=Q", body: `{"title":"B"}`,
			want: &librarypb.CreateBookRequest{Parent: "shelves/1", Book: &librarypb.Book{Title: "B"}},
		},
		{
			name: "unknown body field ignored", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", body: `{"title":"B","shiny":1}`,
			want: &librarypb.CreateBookRequest{Parent: "shelves/1", Book: &librarypb.Book{Title: "B"}},
		},
		{
			name: "unknown body field rejected when strict", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", body: `{"title":"B","shiny":1}`, strict: true,
			wantCode: codes.InvalidArgument, wantErr: `request body: (line 1:14): unknown field "shiny"`,
		},
		{
			name: "malformed JSON names the position", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", body: `{"title": "B",}`,
			wantCode: codes.InvalidArgument, wantErr: `request body: syntax error (line 1:15): unexpected token }`,
		},
		{
			name: "wrong JSON type names the field", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", body: `{"pageCount": true}`,
			wantCode: codes.InvalidArgument, wantErr: `request body: (line 1:15): invalid value for int64 field pageCount: true`,
		},
		{
			name: "not JSON", method: "CreateBook", tmpl: "/v1/{parent=shelves/*}/books",
			path: "/v1/shelves/1/books", body: `title=x`, ctype: "application/x-www-form-urlencoded",
			wantCode: codes.InvalidArgument, wantErr: `request body: Content-Type "application/x-www-form-urlencoded" is not JSON; send application/json`,
		},
		{
			name: "empty body is an empty message", method: "MergeShelves", tmpl: "/v1/{name=shelves/*}:merge",
			path: "/v1/shelves/1:merge", want: &librarypb.MergeShelvesRequest{Name: "shelves/1"},
		},
		{
			name: "body star and path variable", method: "MoveBook", tmpl: "/v1/{name=shelves/*/books/*}:move",
			path: "/v1/shelves/1/books/2:move", body: `{"otherShelfName":"shelves/2","name":"ignored"}`,
			want: &librarypb.MoveBookRequest{Name: "shelves/1/books/2", OtherShelfName: "shelves/2"},
		},
		{
			name: "patch fills update_mask from body keys", method: "UpdateBook", tmpl: "/v1/{book.name=shelves/*/books/*}",
			path: "/v1/shelves/1/books/2", body: `{"title":"T","pageCount":"7","labels":{"a":"b"},"rating":4}`,
			want: &librarypb.UpdateBookRequest{
				Book:       &librarypb.Book{Name: "shelves/1/books/2", Title: "T", PageCount: 7, Labels: map[string]string{"a": "b"}, Rating: wrapperspb.Double(4)},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels", "page_count", "rating", "title"}},
			},
		},
		{
			name: "patch keeps a mask the client set", method: "UpdateBook", tmpl: "/v1/{book.name=shelves/*/books/*}",
			path: "/v1/shelves/1/books/2", query: "update_mask=title", body: `{"title":"T","author":"A"}`,
			want: &librarypb.UpdateBookRequest{
				Book:       &librarypb.Book{Name: "shelves/1/books/2", Title: "T", Author: "A"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			},
		},
		{
			name: "HttpBody request field takes raw bytes", method: "UploadBookCover", tmpl: "/v1/{name=shelves/*/books/*}/cover",
			path: "/v1/shelves/1/books/2/cover", body: "<svg/>", ctype: "image/svg+xml",
			want: &librarypb.UploadBookCoverRequest{Name: "shelves/1/books/2", Cover: &httpbody.HttpBody{ContentType: "image/svg+xml", Data: []byte("<svg/>")}},
		},
		{
			name: "percent-decoded single-segment variable", method: "GetShelf", tmpl: "/v1/{name=shelves/*}",
			path: "/v1/shelves/a%20b", want: &librarypb.GetShelfRequest{Name: "shelves/a b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bindingFor(t, tc.method, tc.tmpl, Options{Strict: tc.strict})
			ctype := tc.ctype
			if ctype == "" && tc.body != "" {
				ctype = "application/json"
			}
			got, err := b.DecodeRequest(Request{Vars: vars(t, b, tc.path), RawQuery: tc.query, Body: []byte(tc.body), ContentType: ctype})
			if tc.wantErr != "" {
				st := status.Convert(err)
				if err == nil || st.Code() != tc.wantCode || st.Message() != tc.wantErr {
					t.Fatalf("error = %v (%v)\nwant %v: %s", err, st.Code(), tc.wantCode, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			typed := as(t, got, tc.want.ProtoReflect().New().Interface())
			if !proto.Equal(typed, tc.want) {
				t.Fatalf("got  %v\nwant %v", typed, tc.want)
			}
		})
	}
}

func TestDecodeRequestMapQuery(t *testing.T) {
	// Maps in query strings use grpc-gateway's key[mapkey]=value form; the
	// library API has none in a query-bound position, so compile a rule that
	// puts Book's fields in the query.
	md := libraryMethod(t, "UpdateBook")
	rule := Rules(md)
	rule.Body = ""
	bs, err := Compile(md, rule, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := bs[0]
	got, err := b.DecodeRequest(Request{Vars: vars(t, b, "/v1/shelves/1/books/2"), RawQuery: "book.labels[color]=red&book.labels[size]=2&book.tags=x"})
	if err != nil {
		t.Fatal(err)
	}
	want := &librarypb.UpdateBookRequest{Book: &librarypb.Book{Name: "shelves/1/books/2", Labels: map[string]string{"color": "red", "size": "2"}, Tags: []string{"x"}}}
	if typed := as(t, got, &librarypb.UpdateBookRequest{}); !proto.Equal(typed, want) {
		t.Fatalf("got %v, want %v", typed, want)
	}
	_, err = b.DecodeRequest(Request{Vars: vars(t, b, "/v1/shelves/1/books/2"), RawQuery: "book.labels=red"})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "is a map; use book.labels[key]=value") {
		t.Fatalf("error = %v", err)
	}
}

// A query value that is not UTF-8 is refused when it is read, on the fast
// path and the dynamic one alike, even when a later parameter sets the same
// field again (json_name "other" and proto name "renamed" are one field).
func TestQueryValueNotUTF8(t *testing.T) {
	get := kitchenMethod(t, "Get")
	b := compileRule(t, get, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/k/{name}"}}, Options{})
	for _, q := range []string{"filter.other=%91", "filter.other=%91&filter.renamed=", "counts[%91]=1", "ids=1&filter.s=%C3"} {
		in := Request{Vars: []string{"n"}, RawQuery: q}
		_, derr := b.DecodeRequest(in)
		_, ferr := b.decodeWire(in, nil)
		for _, err := range []error{derr, ferr} {
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "not valid UTF-8") {
				t.Errorf("%s: %v; want INVALID_ARGUMENT, not valid UTF-8", q, err)
			}
		}
	}
}

// A PATCH derives update_mask from the body only when the body field is a
// message: the keys of a map body are map keys, not field names (a key
// "key" or "value" named a field of the map entry), and a scalar or a list
// has no keys.
func TestPatchUpdateMaskOnlyForMessageBody(t *testing.T) {
	put := kitchenMethod(t, "Put")
	for _, c := range []struct {
		body, json string
		mask       []string
	}{
		{"scalars", `{"i32":1,"other":"x"}`, []string{"i32", "renamed"}},
		{"ms", `{"key":"k","value":"v"}`, nil},
		{"mi", `{"1":{"i32":1}}`, nil},
		{"rs", `["a"]`, nil},
		{"cs", `"x"`, nil},
	} {
		b := compileRule(t, put, &annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/k"}, Body: c.body}, Options{})
		msg, err := b.DecodeRequest(Request{Body: []byte(c.json), ContentType: "application/json"})
		if err != nil {
			t.Fatalf("body %s: %v", c.body, err)
		}
		fd := msg.ProtoReflect().Descriptor().Fields().ByName("update_mask")
		var got []string
		if msg.ProtoReflect().Has(fd) {
			l := msg.ProtoReflect().Get(fd).Message()
			paths := l.Get(l.Descriptor().Fields().ByName("paths")).List()
			for i := 0; i < paths.Len(); i++ {
				got = append(got, paths.Get(i).String())
			}
		}
		if !slices.Equal(got, c.mask) {
			t.Errorf("body %s %s: update_mask = %q, want %q", c.body, c.json, got, c.mask)
		}
	}
}

// TestDecodeRequestGatewayShapes covers the mappings grpc-gateway accepts
// beyond singular path fields and top-level bodies: a repeated field in a
// path variable takes comma-separated elements (and replaces what the body
// set), and a body may name a nested field. Both go through the dynamic
// path (the fast path leaves them to it), so DecodeCall agrees.
func TestDecodeRequestGatewayShapes(t *testing.T) {
	compile := func(method string, rule *annotations.HttpRule) *Binding {
		bs, err := Compile(libraryMethod(t, method), rule, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return bs[0]
	}
	tags := compile("ListBooks", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{parent=shelves/*}/tags/{tags}"}})
	if req, _, _ := tags.FastPath(); req {
		t.Fatal("a repeated path field must not take the fast path (wire bytes would append to the list)")
	}
	got, err := tags.DecodeRequest(Request{Vars: vars(t, tags, "/v1/shelves/1/tags/sf,classic"), RawQuery: "tags=dropped"})
	if err != nil {
		t.Fatal(err)
	}
	want := &librarypb.ListBooksRequest{Parent: "shelves/1", Tags: []string{"sf", "classic"}}
	if typed := as(t, got, &librarypb.ListBooksRequest{}); !proto.Equal(typed, want) {
		t.Fatalf("got %v, want %v", typed, want)
	}

	title := compile("CreateBook", &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/{parent=shelves/*}/title"}, Body: "book.title"})
	if title.BodyField() != "book.title" {
		t.Fatalf("body field %q", title.BodyField())
	}
	call, err := title.DecodeCall(Request{Vars: vars(t, title, "/v1/shelves/1/title"), Body: []byte(`"Dune"`), RawQuery: "book.author=Herbert&book.title=ignored", ContentType: "application/json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantBook := &librarypb.CreateBookRequest{Parent: "shelves/1", Book: &librarypb.Book{Title: "Dune", Author: "Herbert"}}
	if typed := as(t, call.(proto.Message), &librarypb.CreateBookRequest{}); !proto.Equal(typed, wantBook) {
		t.Fatalf("got %v, want %v", typed, wantBook)
	}
	_, err = title.DecodeRequest(Request{Vars: vars(t, title, "/v1/shelves/1/title"), Body: []byte(`{"title":"x"}`), ContentType: "application/json"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "request body") {
		t.Fatalf("an object for a string body field: %v", err)
	}
}
