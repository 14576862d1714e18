package transform

import (
	"encoding/json"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func path(t *testing.T, md protoreflect.MessageDescriptor, p string, lists bool) []protoreflect.FieldDescriptor {
	t.Helper()
	fds, err := resolve(md, p, lists)
	if err != nil {
		t.Fatal(err)
	}
	return fds
}

// Dropping and appending on the wire gives what protobuf would have made
// of the same edits on a message: a dropped field at any depth (in every
// element of a repeated message, in a message sent in pieces), a set
// value that wins over the client's and merges into its parent.
func TestWireEditsMatchMessageEdits(t *testing.T) {
	in := &librarypb.CreateBookRequest{Parent: "shelves/1", BookId: "x",
		Book: &librarypb.Book{Title: "T", Author: "mallory", PageCount: 9, Labels: map[string]string{"a": "b"},
			PublishTime: timestamppb.New(timestamppb.Now().AsTime())}}
	data, _ := proto.Marshal(in)
	// The book again, in a second piece: protobuf merges both.
	extra, _ := proto.Marshal(&librarypb.CreateBookRequest{Book: &librarypb.Book{Author: "eve", Tags: []string{"t"}}})
	data = append(data, extra...)

	md := in.ProtoReflect().Descriptor()
	tree := dropTree{}
	tree.add(path(t, md, "book.author", false))
	tree.add(path(t, md, "book.labels", false))
	tree.add(path(t, md, "book_id", false))
	out, edited, err := drop(data, tree)
	if err != nil || !edited {
		t.Fatalf("drop: %v %v", edited, err)
	}
	author := path(t, md, "book.author", false)
	typ, val := encodeScalar(author[1], protoreflect.ValueOfString("alice"))
	out = appendPath(out, author, typ, val)

	got := &librarypb.CreateBookRequest{}
	if err := proto.Unmarshal(out, got); err != nil {
		t.Fatal(err)
	}
	want := &librarypb.CreateBookRequest{}
	_ = proto.Unmarshal(data, want)
	want.BookId, want.Book.Labels, want.Book.Author = "", nil, "alice"
	if !proto.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}

	// lookup reads what protobuf reads: the last piece wins.
	v, _, found, err := lookup(data, author)
	if err != nil || !found || string(v[1:]) != "eve" {
		t.Fatalf("lookup %q %v %v", v, found, err)
	}
	// Nothing to drop: the same bytes, not a copy.
	if same, edited, _ := drop(data, dropTree{99: {drop: true}}); edited || &same[0] != &data[0] {
		t.Fatal("copied without an edit")
	}
	if _, _, err := drop([]byte{0x0a, 0x05, 0x01}, tree); err == nil {
		t.Fatal("malformed bytes accepted")
	}
}

func TestDropInRepeatedMessages(t *testing.T) {
	in := &librarypb.ListBooksResponse{Books: []*librarypb.Book{{Title: "a", Author: "x"}, {Title: "b", Author: "y"}}, NextPageToken: "n"}
	data, _ := proto.Marshal(in)
	tree := dropTree{}
	tree.add(path(t, in.ProtoReflect().Descriptor(), "books.title", true))
	out, _, err := drop(data, tree)
	if err != nil {
		t.Fatal(err)
	}
	got := &librarypb.ListBooksResponse{}
	if err := proto.Unmarshal(out, got); err != nil {
		t.Fatal(err)
	}
	want := &librarypb.ListBooksResponse{Books: []*librarypb.Book{{Author: "x"}, {Author: "y"}}, NextPageToken: "n"}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

// The JSON edits follow keys at any depth and in arrays, whatever the
// whitespace (protojson adds some at random), and leave other bytes alone.
func TestEditJSON(t *testing.T) {
	tree := jsonTree{
		"title":  {rename: []byte(`"headline"`)},
		"secret": {drop: true},
		"books":  {sub: jsonTree{"labels": {drop: true}}},
	}
	for _, tc := range []struct{ in, want string }{
		{`{"title":"a","secret":{"x":[1,2]},"n":1}`, `{"headline":"a","n":1}`},
		{`{ "secret" : "s" , "title" : "a\"}" }`, `{"headline":"a\"}"}`},
		{`{"books":[{"labels":{"k":"v"},"name":"b"},{"name":"c","labels":{}}],"secret":null}`, `{"books":[{"name":"b"},{"name":"c"}]}`},
		{`{"books":[],"n":true}`, `{"books":[],"n":true}`},
		{`{}`, `{}`},
		{`[1,2]`, `[1,2]`},
	} {
		if got := string(editJSON([]byte(tc.in), tree)); got != tc.want {
			t.Errorf("editJSON(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := string(editJSON([]byte(`{"title":`), tree)); got != `{"title":` {
		t.Errorf("truncated input changed: %s", got)
	}
}

func TestErrorBodyTemplate(t *testing.T) {
	if err := CheckErrorBody(`{"s":"${status}","m":"${message}","c":${code},"h":${http_status}}`); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"m":${message}}`, `{"x":"${nope}"}`, `not json`} {
		if CheckErrorBody(bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// FuzzDrop feeds response bytes an upstream could send: drop never
// panics, and what it returns from bytes protobuf accepts is what
// protobuf makes of them with the fields cleared.
func FuzzDrop(f *testing.F) {
	md := (&librarypb.ListBooksResponse{}).ProtoReflect().Descriptor()
	seed, _ := proto.Marshal(&librarypb.ListBooksResponse{Books: []*librarypb.Book{{Title: "a", Labels: map[string]string{"k": "v"}}}, NextPageToken: "n"})
	f.Add(seed)
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Add([]byte{0x0a, 0x02, 0x12, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		tree := dropTree{}
		books := md.Fields().ByName("books")
		tree.add([]protoreflect.FieldDescriptor{books, books.Message().Fields().ByName("title")})
		tree.add([]protoreflect.FieldDescriptor{md.Fields().ByName("next_page_token")})
		out, _, err := drop(data, tree)
		want := &librarypb.ListBooksResponse{}
		if proto.Unmarshal(data, want) != nil || err != nil {
			return
		}
		for _, b := range want.Books {
			b.Title = ""
		}
		want.NextPageToken = ""
		got := &librarypb.ListBooksResponse{}
		if err := proto.Unmarshal(out, got); err != nil {
			t.Fatalf("edited bytes do not parse: %v", err)
		}
		// A dropped field number goes whatever its wire type; protobuf
		// keeps a wrong-typed one as an unknown field, which no rendering
		// shows.
		for _, m := range []*librarypb.ListBooksResponse{got, want} {
			m.ProtoReflect().SetUnknown(nil)
			for _, b := range m.Books {
				b.ProtoReflect().SetUnknown(nil)
			}
		}
		if !proto.Equal(got, want) {
			t.Fatalf("got %v want %v", got, want)
		}
	})
}

// FuzzEditJSON: any input, never a panic; valid JSON stays valid.
func FuzzEditJSON(f *testing.F) {
	f.Add([]byte(`{"title":"a","books":[{"labels":{"k":"v"}}],"secret":1}`))
	f.Add([]byte(`{"title":`))
	f.Add([]byte(`{"books":[[{"labels":1}]]}`))
	tree := jsonTree{"title": {rename: []byte(`"h"`)}, "secret": {drop: true}, "books": {sub: jsonTree{"labels": {drop: true}}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := editJSON(in, tree)
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("%s → %s", in, out)
		}
	})
}
