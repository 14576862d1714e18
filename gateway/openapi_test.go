package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/refract-gateway/refract/examples"
)

// loadOpenAPI fetches the document from a listener, checks it with
// kin-openapi's OpenAPI 3.1 validator and returns it.
func loadOpenAPI(t *testing.T, h *harness, base string, hdr ...string) (*openapi3.T, response) {
	t.Helper()
	saved := h.base
	h.base = base
	r := h.do(t, "GET", "/openapi.json", "", hdr...).expect(t, 200)
	h.base = saved
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, r.body)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document does not validate: %v", err)
	}
	return doc, r
}

// operations lists "METHOD path" of every operation, custom methods too.
func operations(t *testing.T, body []byte) []string {
	t.Helper()
	var raw struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	var out []string
	for p, item := range raw.Paths {
		for m, v := range item {
			if m == "x-additional-operations" {
				var extra map[string]json.RawMessage
				_ = json.Unmarshal(v, &extra)
				for em := range extra {
					out = append(out, em+" "+p)
				}
				continue
			}
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(out)
	return out
}

func paramSummary(op *openapi3.Operation) []string {
	var out []string
	for _, p := range op.Parameters {
		v := p.Value
		s := v.In + ":" + v.Name + ":" + schemaSummary(v.Schema.Value)
		if v.Required {
			s += ":required"
		}
		if v.Style != "" {
			s += ":" + v.Style
		}
		out = append(out, s)
	}
	return out
}

func schemaSummary(s *openapi3.Schema) string {
	if s == nil {
		return "?"
	}
	t := strings.Join(s.Type.Slice(), "|")
	if s.Format != "" {
		t += "/" + s.Format
	}
	if s.Items != nil {
		t += "[" + schemaSummary(s.Items.Value) + "]"
	}
	if len(s.Enum) > 0 {
		t += fmt.Sprint(s.Enum)
	}
	return t
}

const libraryOps = `DELETE /v1/shelves/{shelf}
DELETE /v1/shelves/{shelf}/books/{book}
GET /v1/authors/{author}/books/{book}
GET /v1/shelves
GET /v1/shelves/{shelf}
GET /v1/shelves/{shelf}/books
GET /v1/shelves/{shelf}/books/{book}
GET /v1/shelves/{shelf}/books/{book}/cover
GET /v1/shelves/{shelf}/books/{book}/title
LOCK /v1/shelves/{shelf}/books/{book}
PATCH /v1/shelves/{shelf}/books/{book}
POST /v1/shelves
POST /v1/shelves/{shelf}/books
POST /v1/shelves/{shelf}/books/{book}:move
POST /v1/shelves/{shelf}:merge
PUT /v1/shelves/{shelf}/books/{book}/cover`

const echoOps = `POST /echo.v1.EchoService/Chat
POST /echo.v1.EchoService/Collect
POST /echo.v1.EchoService/Download
POST /echo.v1.EchoService/Echo
POST /echo.v1.EchoService/Expand
POST /echo.v1.EchoService/Flood
POST /echo.v1.EchoService/Upload`

func sortedLines(s ...string) []string {
	var out []string
	for _, x := range s {
		out = append(out, strings.Split(x, "\n")...)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDocumentsLibraryAndEcho(t *testing.T) {
	lib, err := examples.StartLibraryDocumented("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lib.Stop)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
  - name: echo
    static: [%q]
`, lib.Addr, echo.Addr))
	doc, r := loadOpenAPI(t, h, h.base)

	if got, want := operations(t, r.body), sortedLines(libraryOps, echoOps); !slices.Equal(got, want) {
		t.Fatalf("operations\n got %q\nwant %q", got, want)
	}
	op := func(method, path string) *openapi3.Operation {
		t.Helper()
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Fatalf("no %s %s", method, path)
		}
		return item.GetOperation(method)
	}
	ref := func(s *openapi3.SchemaRef) string { return s.Ref }

	t.Run("parameters", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			want         []string
		}{
			{"GET", "/v1/shelves", []string{"query:pageSize:integer/int32", "query:pageToken:string"}},
			{"GET", "/v1/shelves/{shelf}/books", []string{
				"path:shelf:string:required", "query:pageSize:integer/int32", "query:pageToken:string",
				"query:genre:string[GENRE_UNSPECIFIED FICTION HISTORY SCIENCE POETRY]", "query:tags:array[string]",
				"query:publishedAfter:string/date-time", "query:minRating:number/double", "query:filter.author:string"}},
			{"GET", "/v1/shelves/{shelf}/books/{book}", []string{"path:shelf:string:required", "path:book:string:required"}},
			{"GET", "/v1/authors/{author}/books/{book}", []string{"path:author:string:required", "path:book:string:required"}},
			{"POST", "/v1/shelves/{shelf}/books", []string{"path:shelf:string:required", "query:bookId:string"}},
			{"PATCH", "/v1/shelves/{shelf}/books/{book}", []string{"path:shelf:string:required", "path:book:string:required", "query:updateMask:string"}},
			{"POST", "/v1/shelves/{shelf}:merge", []string{"path:shelf:string:required"}},
			{"POST", "/echo.v1.EchoService/Echo", nil},
		} {
			if got := paramSummary(op(c.method, c.path)); !slices.Equal(got, c.want) {
				t.Errorf("%s %s parameters\n got %q\nwant %q", c.method, c.path, got, c.want)
			}
		}
		p := op("GET", "/v1/shelves/{shelf}/books/{book}").Parameters[0].Value
		if want := "Part of `name`, which is `shelves/{shelf}/books/{book}`"; !strings.Contains(p.Description, want) || p.Schema.Value.Pattern != "^[^/]+$" {
			t.Errorf("shelf parameter: %q, pattern %q", p.Description, p.Schema.Value.Pattern)
		}
	})

	t.Run("bodies", func(t *testing.T) {
		body := func(method, path string) openapi3.Content { return op(method, path).RequestBody.Value.Content }
		if got := ref(body("POST", "/v1/shelves/{shelf}/books")["application/json"].Schema); got != "#/components/schemas/library.v1.Book" {
			t.Errorf("CreateBook body (field book) = %q", got)
		}
		// body "*": the request less name, which the path sets.
		merge := body("POST", "/v1/shelves/{shelf}:merge")["application/json"].Schema.Value
		if len(merge.Properties) != 1 || merge.Properties["otherShelfName"] == nil || schemaSummary(merge) != "object" {
			t.Errorf("MergeShelves body (*) = %s %v", schemaSummary(merge), merge.Properties)
		}
		if want := "library.v1.MergeShelvesRequest without name, which the path sets."; !strings.HasSuffix(merge.Description, want) {
			t.Errorf("MergeShelves body description %q", merge.Description)
		}
		if c := body("PUT", "/v1/shelves/{shelf}/books/{book}/cover"); len(c) != 1 || c["*/*"] == nil {
			t.Errorf("UploadBookCover body (HttpBody field) = %v", c)
		}
		if op("GET", "/v1/shelves").RequestBody != nil {
			t.Errorf("a GET has a request body")
		}
		resp := func(method, path string) openapi3.Content {
			return op(method, path).Responses.Value("200").Value.Content
		}
		if s := resp("GET", "/v1/shelves/{shelf}/books/{book}/title")["application/json"].Schema.Value; schemaSummary(s) != "string" {
			t.Errorf("GetBookTitle response (response_body title) = %s", schemaSummary(s))
		}
		if c := resp("GET", "/v1/shelves/{shelf}/books/{book}/cover"); len(c) != 1 || c["*/*"] == nil {
			t.Errorf("GetBookCover response (HttpBody) = %v", c)
		}
		if got := ref(resp("GET", "/v1/shelves/{shelf}")["application/json"].Schema); got != "#/components/schemas/library.v1.Shelf" {
			t.Errorf("GetShelf response = %q", got)
		}
		if got := ref(op("GET", "/v1/shelves").Responses.Default().Value.Content["application/json"].Schema); got != "#/components/schemas/google.rpc.Status" {
			t.Errorf("default response = %q", got)
		}
	})

	t.Run("streams", func(t *testing.T) {
		expand := op("POST", "/echo.v1.EchoService/Expand").Responses.Value("200").Value.Content
		var types []string
		for ct := range expand {
			types = append(types, ct)
		}
		sort.Strings(types)
		if want := []string{"application/json", "application/x-ndjson", "text/event-stream"}; !slices.Equal(types, want) {
			t.Errorf("Expand response types %q, want %q", types, want)
		}
		line := expand["application/x-ndjson"].Schema.Value
		if ref(line.Properties["result"]) != "#/components/schemas/echo.v1.EchoResponse" || ref(line.Properties["error"]) != "#/components/schemas/google.rpc.Status" {
			t.Errorf("Expand NDJSON line = %v", line.Properties)
		}
		collect := op("POST", "/echo.v1.EchoService/Collect").RequestBody.Value.Content
		if ref(collect["application/x-ndjson"].Schema) != "#/components/schemas/echo.v1.EchoRequest" ||
			schemaSummary(collect["application/json"].Schema.Value) != "array[object]" {
			t.Errorf("Collect request = %v", collect)
		}
		if c := op("POST", "/echo.v1.EchoService/Download").Responses.Value("200").Value.Content; c["*/*"] == nil {
			t.Errorf("Download response = %v", c)
		}
		if c := op("POST", "/echo.v1.EchoService/Upload").RequestBody.Value.Content; c["*/*"] == nil {
			t.Errorf("Upload request = %v", c)
		}
		if got := op("POST", "/echo.v1.EchoService/Chat").Extensions["x-grpc-streaming"]; got != "bidi" {
			t.Errorf("Chat x-grpc-streaming = %v", got)
		}
	})

	t.Run("schemas", func(t *testing.T) {
		book := doc.Components.Schemas["library.v1.Book"].Value
		var props []string
		for name, p := range book.Properties {
			s := p.Value
			desc := schemaSummary(s)
			if p.Ref != "" {
				desc = p.Ref
			}
			if len(s.AnyOf) == 2 {
				desc = schemaSummary(s.AnyOf[0].Value) + "|" + schemaSummary(s.AnyOf[1].Value)
			}
			if ap := s.AdditionalProperties.Schema; ap != nil {
				desc += "{" + schemaSummary(ap.Value) + "}"
			}
			props = append(props, name+"="+desc)
		}
		sort.Strings(props)
		want := []string{
			"author=string", "checksum=string/byte", "dueBack=string|null/date-time",
			"genre=#/components/schemas/library.v1.Genre", "inStock=boolean", "labels=object{string}",
			"locked=boolean", "name=string", "pageCount=string/int64", "publishTime=string|null/date-time",
			"rating=number|null/double", "readTime=string|null", "tags=array[string]", "title=string",
			"titleOriginal=string",
		}
		if !slices.Equal(props, want) {
			t.Errorf("Book properties\n got %q\nwant %q", props, want)
		}
		if p := book.Properties["readTime"].Value.Pattern; p != `^-?[0-9]+(\.[0-9]{1,9})?s$` {
			t.Errorf("readTime pattern %q", p)
		}
		genre := doc.Components.Schemas["library.v1.Genre"].Value
		if fmt.Sprint(genre.Enum) != "[GENRE_UNSPECIFIED FICTION HISTORY SCIENCE POETRY]" || schemaSummary(genre) != "string[GENRE_UNSPECIFIED FICTION HISTORY SCIENCE POETRY]" {
			t.Errorf("Genre = %s", schemaSummary(genre))
		}
		if oneofs, _ := book.Extensions["x-oneofs"].(map[string]any); fmt.Sprint(oneofs["availability"]) != "[inStock dueBack]" {
			t.Errorf("x-oneofs = %v", book.Extensions["x-oneofs"])
		}
		shelf := doc.Components.Schemas["library.v1.Shelf"].Value
		if ref := shelf.Properties["createTime"].Value; schemaSummary(ref) != "string|null/date-time" {
			t.Errorf("Shelf.createTime = %s", schemaSummary(ref))
		}
		status := doc.Components.Schemas["google.rpc.Status"].Value
		if got := fmt.Sprint(slices.Sorted(func(yield func(string) bool) {
			for k := range status.Properties {
				if !yield(k) {
					return
				}
			}
		})); got != "[code details message]" {
			t.Errorf("Status properties %s", got)
		}
	})

	t.Run("comments", func(t *testing.T) {
		get := op("GET", "/v1/shelves/{shelf}")
		if get.Summary != "GetShelf returns one shelf" || !strings.Contains(get.Description, "Form: a path variable with a multi-segment pattern") {
			t.Errorf("GetShelf summary %q description %q", get.Summary, get.Description)
		}
		shelf := doc.Components.Schemas["library.v1.Shelf"].Value
		if shelf.Description != "Shelf holds books." || shelf.Properties["bookCount"].Value.Description != "book_count is output only: how many books are on the shelf now." {
			t.Errorf("Shelf %q, bookCount %q", shelf.Description, shelf.Properties["bookCount"].Value.Description)
		}
		if d := doc.Components.Schemas["library.v1.Genre"].Value.Description; !strings.Contains(d, `- GENRE_UNSPECIFIED: GENRE_UNSPECIFIED is "no genre"`) {
			t.Errorf("Genre description %q", d)
		}
		if tag := doc.Tags.Get("library.v1.LibraryService"); tag == nil || tag.Description != "LibraryService manages shelves and the books on them." {
			t.Errorf("library tag %+v", tag)
		}
		// The echo backend's descriptors carry no source info.
		if d := op("POST", "/echo.v1.EchoService/Echo").Description; d != "" {
			t.Errorf("Echo description %q, want none", d)
		}
	})

	t.Run("real answers match the schemas", func(t *testing.T) {
		check := func(schema string, body []byte) {
			t.Helper()
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			s := doc.Components.Schemas[schema].Value
			if err := s.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("%s does not match %s: %v", body, schema, err)
			}
		}
		check("library.v1.Book", h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200).body)
		check("library.v1.ListBooksResponse", h.do(t, "GET", "/v1/shelves/1/books", "").expect(t, 200).body)
		check("library.v1.ListShelvesResponse", h.do(t, "GET", "/v1/shelves", "").expect(t, 200).body)
		check("google.rpc.Status", h.do(t, "GET", "/v1/shelves/9", "").expect(t, 404).body)
		check("echo.v1.EchoResponse", h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 200).body)
		// The documented query names are the ones the gateway reads: with
		// pageSize ignored shelf 1 would list both its books.
		var page struct {
			Books []struct {
				Author string `json:"author"`
			} `json:"books"`
			NextPageToken string `json:"nextPageToken"`
		}
		r := h.do(t, "GET", "/v1/shelves/1/books?pageSize=1", "").expect(t, 200)
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Books) != 1 || page.NextPageToken == "" {
			t.Errorf("pageSize=1: %s", r.body)
		}
		r = h.do(t, "GET", "/v1/shelves/1/books?filter.author=ursula%20k.%20le%20guin&publishedAfter=1900-01-01T00:00:00Z&minRating=0", "").expect(t, 200)
		page.Books = nil
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Books) != 1 || page.Books[0].Author != "Ursula K. Le Guin" {
			t.Errorf("filter.author: %s", r.body)
		}
		// The checks can fail: a Book is not a Shelf list.
		if err := doc.Components.Schemas["library.v1.ListShelvesResponse"].Value.VisitJSON(map[string]any{"shelves": "x"}, openapi3.EnableJSONSchema2020()); err == nil {
			t.Errorf("a wrong value matched the schema")
		}
	})
}

func TestOpenAPIFollowsTheRoutes(t *testing.T) {
	t.Run("hidden methods, a path prefix and products", func(t *testing.T) {
		lib := startLibrary(t)
		echo := startEcho(t, "127.0.0.1:0")
		h := startGateway(t, fmt.Sprintf(`
products:
  - {name: internal, listen: "127.0.0.1:0", upstreams: [echo]}
upstreams:
  - name: library
    static: [%q]
    hide: ["*.LockBook", "*.Delete*", "*Cover"]
    path_prefix: /library
  - name: echo
    static: [%q]
    expose: ["*.Echo"]
`, lib.Addr, echo.Addr))
		_, main := loadOpenAPI(t, h, h.base)
		want := []string{
			"GET /library/v1/authors/{author}/books/{book}", "GET /library/v1/shelves", "GET /library/v1/shelves/{shelf}",
			"GET /library/v1/shelves/{shelf}/books", "GET /library/v1/shelves/{shelf}/books/{book}",
			"GET /library/v1/shelves/{shelf}/books/{book}/title", "PATCH /library/v1/shelves/{shelf}/books/{book}",
			"POST /library/v1/shelves", "POST /library/v1/shelves/{shelf}/books", "POST /library/v1/shelves/{shelf}/books/{book}:move",
			"POST /library/v1/shelves/{shelf}:merge",
		}
		if got := operations(t, main.body); !slices.Equal(got, want) {
			t.Errorf("main listener\n got %q\nwant %q", got, want)
		}
		if strings.Contains(string(main.body), "LockBook") || strings.Contains(string(main.body), "DeleteBook") {
			t.Errorf("a hidden method is described")
		}
		_, internal := loadOpenAPI(t, h, "http://"+h.gw.ProductAddr("internal"))
		if got := operations(t, internal.body); !slices.Equal(got, []string{"POST /echo.v1.EchoService/Echo"}) {
			t.Errorf("product listener: %q", got)
		}
		if !strings.Contains(string(internal.body), `"title":"refract — internal"`) {
			t.Errorf("product document title: %.200s", internal.body)
		}
	})

	t.Run("a product chosen by Host", func(t *testing.T) {
		lib := startLibrary(t)
		echo := startEcho(t, "127.0.0.1:0")
		h := startGateway(t, fmt.Sprintf(`
products:
  - {name: shop, hosts: [shop.example.com], upstreams: [library]}
upstreams:
  - name: library
    static: [%q]
    expose: ["*.GetShelf"]
  - name: echo
    static: [%q]
    expose: ["*.Echo"]
`, lib.Addr, echo.Addr))
		get := func(host string) []string {
			req, err := http.NewRequestWithContext(t.Context(), "GET", h.base+"/openapi.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", host, resp.StatusCode)
			}
			return operations(t, body)
		}
		if got := get("Shop.Example.com:8080"); !slices.Equal(got, []string{"GET /v1/shelves/{shelf}"}) {
			t.Errorf("shop: %q", got)
		}
		if got := get("other.example.com"); !slices.Equal(got, []string{"POST /echo.v1.EchoService/Echo"}) {
			t.Errorf("main: %q", got)
		}
	})

	t.Run("the document changes with the descriptors", func(t *testing.T) {
		lib := startLibrary(t)
		addr := lib.Addr
		h := startGateway(t, libraryConfig(addr, "")+"reflection: {refresh_interval: 1h}\n")
		const extra = "POST /library.v1.LibraryService/GetServerVersion"
		_, before := loadOpenAPI(t, h, h.base)
		if slices.Contains(operations(t, before.body), extra) {
			t.Fatalf("v1 already has %s", extra)
		}
		// Served from the cache while the routes stay: same ETag, 304.
		etag := before.header.Get("ETag")
		h.do(t, "GET", "/openapi.json", "", "If-None-Match", etag).expect(t, 304)

		lib.Stop()
		v2, err := examples.StartLibraryV2(addr)
		if err != nil {
			t.Fatalf("restart on %s: %v", addr, err)
		}
		t.Cleanup(v2.Stop)
		eventually(t, 10*time.Second, "the v2 schema", func() bool {
			_, err := h.gw.Cache().Refresh(context.Background(), "library")
			return err == nil && h.do(t, "POST", "/library.v1.LibraryService/GetServerVersion", "{}").status == 200
		})
		_, after := loadOpenAPI(t, h, h.base)
		got := operations(t, after.body)
		if want := append(sortedLines(libraryOps), extra); !slices.Equal(got, sortedLines(strings.Join(want, "\n"))) {
			t.Errorf("after the upgrade\n got %q", got)
		}
		if after.header.Get("ETag") == etag {
			t.Errorf("the ETag did not change")
		}
		var doc struct {
			Paths map[string]map[string]struct {
				RequestBody struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
				Responses map[string]struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			} `json:"paths"`
		}
		_ = json.Unmarshal(after.body, &doc)
		op := doc.Paths["/library.v1.LibraryService/GetServerVersion"]["post"]
		if got := fmt.Sprint(op.Responses["200"].Content["application/json"].Schema["type"]); got != "[string null]" {
			t.Errorf("GetServerVersion response (StringValue) type %s", got)
		}
		if got := fmt.Sprint(op.RequestBody.Content["application/json"].Schema["type"]); got != "object" {
			t.Errorf("GetServerVersion request (Empty) type %s", got)
		}
	})

	t.Run("off, moved, and methods", func(t *testing.T) {
		lib := startLibrary(t)
		off := startGateway(t, libraryConfig(lib.Addr, "")+"openapi: {enabled: false}\n")
		r := off.do(t, "GET", "/openapi.json", "").expect(t, 404)
		jsonEq(t, r.body, `{"code":5,"message":"no route for GET /openapi.json","details":[]}`)

		moved := startGateway(t, libraryConfig(lib.Addr, "")+"openapi: {path: /docs/api.json}\n")
		moved.do(t, "GET", "/openapi.json", "").expect(t, 404)
		r = moved.do(t, "GET", "/docs/api.json", "").expect(t, 200)
		if !strings.HasPrefix(string(r.body), `{"openapi":"3.1.0"`) {
			t.Errorf("body %.40s", r.body)
		}
		head := moved.do(t, "HEAD", "/docs/api.json", "").expect(t, 200)
		if len(head.body) != 0 || head.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
			t.Errorf("HEAD: %d bytes, Content-Length %s", len(head.body), head.header.Get("Content-Length"))
		}
		r = moved.do(t, "POST", "/docs/api.json", "{}").expect(t, 405)
		jsonEq(t, r.body, `{"code":12,"message":"method POST is not allowed on /docs/api.json; allowed: GET, HEAD","details":[]}`)
		if r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("Allow %q", r.header.Get("Allow"))
		}
		// One build per table: the same document value serves every request.
		if !moved.gw.SameOpenAPIDoc() {
			t.Errorf("the document was built twice for one table")
		}
	})
}
