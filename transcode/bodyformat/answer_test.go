package bodyformat

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestPrefersXML(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/xml":                         true,
		"text/xml":                                true,
		"application/xml, */*;q=0.1":              true,
		"application/json, application/xml":       false,
		"application/xml;q=0.5, application/json": false,
		"*/*":                              false,
		"application/xml;q=0":              false,
		"application/xml;q=bad, text/html": false,
		"text/*, application/json;q=0.9":   true,
	} {
		if got := prefersXML([]string{accept}); got != want {
			t.Errorf("%q: %v, want %v", accept, got, want)
		}
	}
}

func TestAnswerXML(t *testing.T) {
	rt := libraryRoute(t, "CreateBook", Options{XML: true})
	serve := func(accept string, status int, ct, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", accept)
		w := rt.Answer(rec, r)
		if w == nil {
			return rec
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", "999")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		Finish(w)
		return rec
	}
	rec := serve("application/xml", 200, "application/json",
		`{"name":"n","title":"<&>","tags":["a","b"],"labels":{"z":"1","a":"2"},"rating":null,"publishTime":"2020-01-01T00:00:00Z","inStock":true}`)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Book><name>n</name><title>&lt;&amp;&gt;</title><publishTime>2020-01-01T00:00:00Z</publishTime>` +
		`<tags>a</tags><tags>b</tags><labels><key>a</key><value>2</value></labels><labels><key>z</key><value>1</value></labels><inStock>true</inStock></Book>`
	if rec.Body.String() != want || rec.Header().Get("Content-Type") != XMLContentType || rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) || rec.Code != 200 {
		t.Fatalf("%d %v\n got %s\nwant %s", rec.Code, rec.Header(), rec.Body, want)
	}
	// Errors pass through as JSON.
	rec = serve("application/xml", 404, "application/json", `{"code":5}`)
	if rec.Body.String() != `{"code":5}` || rec.Code != 404 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if rec := serve("application/json", 200, "application/json", `{"name":"n"}`); rec.Body.String() != `{"name":"n"}` || rec.Header().Get("Vary") != "Accept" {
		t.Fatalf("%v %s", rec.Header(), rec.Body)
	}
	if rec := serve("image/png", 200, "application/json", `{}`); rec.Code != 406 || !strings.Contains(rec.Body.String(), "application/xml") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestEncodeXMLResponseBody(t *testing.T) {
	rt := libraryRoute(t, "GetBookTitle", Options{XML: true})
	out, err := rt.encodeXML([]byte(`"SPQR <1>"`))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<BookTitle><title>SPQR &lt;1&gt;</title></BookTitle>`
	if err != nil || string(out) != want {
		t.Fatalf("%v\n got %s\nwant %s", err, out, want)
	}
	rt = libraryRoute(t, "ListBooks", Options{XML: true})
	out, err = rt.encodeXML([]byte(`{"books":[{"name":"a","rating":null,"readTime":"1s","checksum":"AAE="},{"name":"b"}],"nextPageToken":""}`))
	want = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListBooksResponse><books><name>a</name><readTime>1s</readTime><checksum>AAE=</checksum></books>` +
		`<books><name>b</name></books><nextPageToken></nextPageToken></ListBooksResponse>`
	if err != nil || string(out) != want {
		t.Fatalf("%v\n got %s\nwant %s", err, out, want)
	}
}

func TestEncodeXMLUnknownKeys(t *testing.T) {
	rt := libraryRoute(t, "CreateBook", Options{XML: true})
	out, err := rt.encodeXML([]byte(`{"title":"T","meta":{"z":[1,2],"a":"x","n":null},"data":{"bad key":1}}`))
	if err == nil || !strings.Contains(err.Error(), `"bad key"`) {
		t.Fatalf("%v %s", err, out)
	}
	out, err = rt.encodeXML([]byte(`{"title":"T","meta":{"z":[1,2],"a":"x<","n":null}}`))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Book><title>T</title><meta><a>x&lt;</a><z>1</z><z>2</z></meta></Book>`
	if err != nil || string(out) != want {
		t.Fatalf("%v\n got %s\nwant %s", err, out, want)
	}
}

func BenchmarkEncodeXML(b *testing.B) {
	rt := libraryRoute(b, "CreateBook", Options{XML: true})
	js := []byte(`{"name":"shelves/1/books/1","title":"Dune","author":"Frank Herbert","genre":"FICTION","pageCount":"412",
		"publishTime":"1965-08-01T00:00:00Z","tags":["desert","spice"],"labels":{"lang":"en"},"rating":4.5,"checksum":"","inStock":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.encodeXML(js); err != nil {
			b.Fatal(err)
		}
	}
}
