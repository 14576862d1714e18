package transcode

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
)

func TestCompileLibrary(t *testing.T) {
	var got []string
	ms := libraryMethod(t, "GetShelf").ParentFile().Services().Get(0).Methods()
	for i := 0; i < ms.Len(); i++ {
		md := ms.Get(i)
		bs, err := Compile(md, Rules(md), Options{})
		if err != nil {
			t.Fatalf("%s: %v", md.Name(), err)
		}
		for _, b := range bs {
			got = append(got, b.HTTPMethod+" "+b.Template.String()+" body="+b.BodyField()+" resp="+b.ResponseField())
		}
	}
	want := []string{
		"GET /v1/shelves body= resp=",
		"GET /v1/{name=shelves/*} body= resp=",
		"POST /v1/shelves body=shelf resp=",
		"DELETE /v1/{name=shelves/*} body= resp=",
		"POST /v1/{name=shelves/*}:merge body=* resp=",
		"GET /v1/{parent=shelves/*}/books body= resp=",
		"GET /v1/{name=shelves/*/books/*} body= resp=",
		"GET /v1/{name=authors/*/books/*} body= resp=",
		"GET /v1/{name=shelves/*/books/*}/title body= resp=title",
		"POST /v1/{parent=shelves/*}/books body=book resp=",
		"PATCH /v1/{book.name=shelves/*/books/*} body=book resp=",
		"DELETE /v1/{name=shelves/*/books/*} body= resp=",
		"POST /v1/{name=shelves/*/books/*}:move body=* resp=",
		"GET /v1/{name=shelves/*/books/*}/cover body= resp=",
		"PUT /v1/{name=shelves/*/books/*}/cover body=cover resp=",
		"LOCK /v1/{name=shelves/*/books/*} body=* resp=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDefaultRule(t *testing.T) {
	md := libraryMethod(t, "GetShelf")
	bs, err := Compile(md, DefaultRule(md), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bs[0].String(); got != "POST /library.v1.LibraryService/GetShelf → library.v1.LibraryService.GetShelf" {
		t.Fatalf("got %s", got)
	}
	if bs[0].FullMethod != "/library.v1.LibraryService/GetShelf" {
		t.Fatalf("FullMethod = %s", bs[0].FullMethod)
	}
}

func TestCompileErrors(t *testing.T) {
	get := func(p string) *annotations.HttpRule {
		return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: p}}
	}
	post := func(p, body string) *annotations.HttpRule {
		return &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: p}, Body: body}
	}
	nested := post("/v1/a", "*")
	nested.AdditionalBindings = []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Get{Get: "/v1/b"}, AdditionalBindings: []*annotations.HttpRule{get("/v1/c")}}}
	tests := []struct {
		method string
		rule   *annotations.HttpRule
		want   string
	}{
		{"GetShelf", get("/v1/{nme=shelves/*}"), `transcode: method library.v1.LibraryService.GetShelf: rule GET /v1/{nme=shelves/*}: path variable nme: message library.v1.GetShelfRequest has no field "nme"`},
		{"CreateBook", get("/v1/{book=shelves/*}"), `transcode: method library.v1.LibraryService.CreateBook: rule GET /v1/{book=shelves/*}: path variable book: field must be a scalar, not message library.v1.Book`},
		{"CreateBook", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/books"}, Body: "book"}, `transcode: method library.v1.LibraryService.CreateBook: rule GET /v1/books: GET must not have a body`},
		{"CreateBook", post("/v1/books", "volume"), `transcode: method library.v1.LibraryService.CreateBook: rule POST /v1/books: body "volume": message library.v1.CreateBookRequest has no field "volume"`},
		{"CreateBook", post("/v1/books", "book.title.x"), `transcode: method library.v1.LibraryService.CreateBook: rule POST /v1/books: body "book.title.x": field library.v1.Book.title is not a singular message`},
		{"CreateBook", post("/v1/{parent=shelves/*}", "parent"), `transcode: method library.v1.LibraryService.CreateBook: rule POST /v1/{parent=shelves/*}: body "parent": field is also bound by the path`},
		{"GetShelf", nested, `transcode: method library.v1.LibraryService.GetShelf: additional_bindings must not nest`},
		{"GetShelf", &annotations.HttpRule{}, `transcode: method library.v1.LibraryService.GetShelf: rule has no HTTP method and path`},
	}
	for _, tc := range tests {
		_, err := Compile(libraryMethod(t, tc.method), tc.rule, Options{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Compile(%s, %v):\n got %v\nwant %s", tc.method, tc.rule, err, tc.want)
		}
	}
	_, err := Compile(libraryMethod(t, "GetShelf"), get("/v1/{name=shelves/*"), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "transcode: method library.v1.LibraryService.GetShelf: router: ") {
		t.Errorf("bad template error = %v", err)
	}
}
