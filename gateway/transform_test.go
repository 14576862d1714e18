package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/gateway/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// jwtGlobal is the top-level config of the transform tests' bearer
// tokens (hsToken signs them).
var jwtGlobal = fmt.Sprintf(`jwt: {algorithms: [HS256], hmac_secret: {value: %s}, issuer: "https://id.test", audiences: [refract]}
`, testHMAC)

// A claim overrides what the client sent, on the wire fast path: the
// author comes from the token's sub whatever the body says, a constant
// and a copied field replace theirs, a header fills an enum, a removed
// field never reaches the backend.
func TestTransformRequestFieldsOnWire(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, policyConfig(lib.Addr, jwtGlobal, `
    routes:
      - method: library.v1.LibraryService.CreateBook
        policies:
          auth: [jwt]
          transform:
            request:
              set:
                - {field: book.author, from: "claim:sub"}
                - {field: book.page_count, from: "const:7"}
                - {field: book.original_title, from: "field:book.title"}
                - {field: book.genre, from: "header:X-Genre"}
              remove: [book_id]
`))
	tok := hsToken(t, "alice")
	before := h.gw.TransformStats()
	r := h.do(t, "POST", "/v1/shelves/1/books?book_id=chosen",
		`{"title":"Dune","author":"mallory","pageCount":"999","titleOriginal":"forged","genre":"POETRY"}`,
		"Authorization", tok, "X-Genre", "SCIENCE").expect(t, 200)
	for k, want := range map[string]any{"author": "alice", "pageCount": "7", "titleOriginal": "Dune", "genre": "SCIENCE", "title": "Dune"} {
		if got := field(t, r.body, k); got != want {
			t.Errorf("%s = %v, want %v (body %s)", k, got, want, r.body)
		}
	}
	if name := field(t, r.body, "name").(string); strings.HasSuffix(name, "/chosen") {
		t.Errorf("book_id reached the backend: %s", name)
	}
	if d := h.gw.TransformStats().WireRequests - before.WireRequests; d != 1 {
		t.Errorf("wire request edits +%d, want +1", d)
	}

	// Without the header its field is cleared, not left as the client sent it.
	r = h.do(t, "POST", "/v1/shelves/1/books", `{"title":"Emma","genre":"POETRY"}`, "Authorization", tok).expect(t, 200)
	if got := field(t, r.body, "genre"); got != "GENRE_UNSPECIFIED" && got != nil {
		t.Errorf("genre %v, want cleared", got)
	}
	// A header the field's type cannot take is the caller's to fix.
	r = h.do(t, "POST", "/v1/shelves/1/books", `{"title":"Emma"}`, "Authorization", tok, "X-Genre", "NOVEL").expect(t, 400)
	if msg := field(t, r.body, "message").(string); !strings.Contains(msg, "header:X-Genre") || !strings.Contains(msg, `"NOVEL"`) || !strings.Contains(msg, "library.v1.Genre") {
		t.Errorf("message %q", msg)
	}
}

// A route whose call already uses a dynamic message (PATCH deriving its
// update mask) is edited on the message, and counted so.
func TestTransformRequestFieldsDynamic(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, policyConfig(lib.Addr, jwtGlobal, `
    routes:
      - method: library.v1.LibraryService.UpdateBook
        policies:
          auth: [jwt]
          transform:
            request:
              set: [{field: book.author, from: "claim:sub"}]
`))
	before := h.gw.TransformStats()
	r := h.do(t, "PATCH", "/v1/shelves/1/books/1", `{"author":"mallory"}`, "Authorization", hsToken(t, "bob")).expect(t, 200)
	if got := field(t, r.body, "author"); got != "bob" {
		t.Fatalf("author %v, want bob: %s", got, r.body)
	}
	if d := h.gw.TransformStats().DynamicRequests - before.DynamicRequests; d != 1 {
		t.Fatalf("dynamic request edits +%d, want +1", d)
	}
}

// Metadata edits: set from a header and a constant, removed, renamed; a
// transform cannot forge what authentication writes (the consumer key).
func TestTransformMetadata(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	h := startGateway(t, policyConfig(lib.Addr, `
consumers: [{name: app, keys: [{value: app-key}]}]
`, `
    forward_headers: [X-Api-Version, X-Client]
    policies:
      auth: [api_key]
      transform:
        request:
          metadata:
            set: {x-tenant: "header:X-Tenant-Id", x-source: "const:web", x-consumer: "const:forged", x-who: consumer}
            remove: [x-api-version]
            rename: {x-client: x-app}
`))
	h.do(t, "GET", "/v1/shelves", "", "X-Api-Key", "app-key", "X-Tenant-Id", "acme", "X-Api-Version", "2", "X-Client", "ios").expect(t, 200)
	md := rec.lastMD()
	for k, want := range map[string]string{"x-tenant": "acme", "x-source": "web", "x-app": "ios", "x-consumer": "app", "x-who": "app"} {
		if got := md.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %v, want %q", k, got, want)
		}
	}
	for _, k := range []string{"x-api-version", "x-client"} {
		if got := md.Get(k); len(got) != 0 {
			t.Errorf("metadata %s = %v, want none", k, got)
		}
	}
}

// Response edits: fields omitted at depth (inside repeated messages
// too), a top-level key renamed, the body wrapped, headers set and
// removed.
func TestTransformResponse(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, `
    routes:
      - method: library.v1.LibraryService.GetBook
        policies:
          transform:
            response:
              omit: [checksum, labels, publish_time]
              rename: {title: headline}
              envelope: data
              headers:
                set: {Cache-Control: no-store}
                remove: [Grpc-Metadata-X-Served-By]
      - method: library.v1.LibraryService.ListBooks
        policies:
          transform:
            response: {omit: [books.labels, books.title, next_page_token]}
`))
	before := h.gw.TransformStats()
	r := h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
	var env map[string]map[string]any
	if err := json.Unmarshal(r.body, &env); err != nil || len(env) != 1 || env["data"] == nil {
		t.Fatalf("not wrapped in data: %s", r.body)
	}
	book := env["data"]
	if book["headline"] == nil || book["title"] != nil {
		t.Errorf("title not renamed: %s", r.body)
	}
	for _, k := range []string{"checksum", "labels", "publishTime"} {
		if _, ok := book[k]; ok {
			t.Errorf("%s not omitted: %s", k, r.body)
		}
	}
	if book["name"] != "shelves/1/books/1" || book["author"] == nil {
		t.Errorf("other fields lost: %s", r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Grpc-Metadata-X-Served-By") != "" {
		t.Errorf("headers %v", r.header)
	}
	if r.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
		t.Errorf("Content-Length %q for %d bytes", r.header.Get("Content-Length"), len(r.body))
	}

	r = h.do(t, "GET", "/v1/shelves/1/books", "").expect(t, 200)
	var list struct {
		Books []map[string]any `json:"books"`
		Next  *string          `json:"nextPageToken"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Books) == 0 {
		t.Fatalf("list: %s", r.body)
	}
	for _, b := range list.Books {
		if b["title"] != nil || b["labels"] != nil || b["name"] == nil {
			t.Errorf("book %v", b)
		}
	}
	if after := h.gw.TransformStats(); after.WireResponses-before.WireResponses != 2 || after.Bodies-before.Bodies != 2 {
		t.Errorf("stats %+v → %+v", before, after)
	}
}

// Errors: a code mapped to another status keeps the google.rpc.Status
// body; a body template replaces it, escaped.
func TestTransformErrors(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, `
    routes:
      - method: library.v1.LibraryService.GetBook
        policies:
          transform:
            errors: {status: {NOT_FOUND: 410}}
      - method: library.v1.LibraryService.GetShelf
        policies:
          transform:
            response: {headers: {set: {X-Api: v1}}}
            errors:
              status: {NOT_FOUND: 422}
              body: '{"error":{"status":"${status}","code":${code},"http":${http_status},"message":"${message}"}}'
`))
	r := h.do(t, "GET", "/v1/shelves/1/books/nope", "").expect(t, 410)
	if field(t, r.body, "code") != float64(5) {
		t.Fatalf("body %s", r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/nope", "").expect(t, 422)
	var got struct {
		Error struct {
			Status  string
			Code    int
			HTTP    int
			Message string
		}
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if got.Error.Status != "NOT_FOUND" || got.Error.Code != 5 || got.Error.HTTP != 422 || !strings.Contains(got.Error.Message, "shelves/nope") {
		t.Fatalf("body %s", r.body)
	}
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Api") != "v1" {
		t.Fatalf("headers %v", r.header)
	}
	// Other codes and routes keep the default.
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves/1/books/1/title", "").expect(t, 200)
}

// A transform naming a field the message lacks, or one of a type it
// cannot set, leaves the route unrouted with a problem naming the field,
// the message and the route; the upstream's other routes are served.
func TestTransformUnknownFieldLeavesRouteUnrouted(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, `
    routes:
      - method: library.v1.LibraryService.CreateBook
        policies:
          transform:
            request: {set: [{field: book.autor, from: "const:x"}]}
      - method: library.v1.LibraryService.GetBook
        policies:
          transform:
            response: {omit: [nonexistent]}
      - method: library.v1.LibraryService.UpdateBook
        policies:
          transform:
            request: {set: [{field: book.tags, from: "const:x"}]}
      - method: library.v1.LibraryService.GetBookCover
        policies:
          transform:
            response: {envelope: data}
      - method: library.v1.LibraryService.GetShelf
        policies:
          transform:
            request: {set: [{field: name, from: "const:x"}]}
            response: {omit: [create_time.seconds]}
`))
	h.do(t, "POST", "/v1/shelves/1/books", `{"title":"x"}`).expect(t, 405) // GET lists books there
	h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 405)             // other methods serve the path
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	h.do(t, "GET", "/v1/shelves/1/books/1/cover", "").expect(t, 405) // the upload serves the path
	code, body := get(t, h.admin+"/admin/routes")
	if code != 200 {
		t.Fatalf("admin %d", code)
	}
	var resp struct {
		Unrouted map[string][]string `json:"unrouted"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(resp.Unrouted["library"], "\n")
	for _, want := range []string{
		`library.v1.LibraryService.CreateBook: route POST /v1/{parent=shelves/*}/books: transform: request.set[0]: field book.autor: no field "autor" in message library.v1.Book (in library.v1.CreateBookRequest); left unrouted`,
		`response.omit[0]: field nonexistent: no field "nonexistent" in message library.v1.Book`,
		`request.set[0]: field book.tags of library.v1.UpdateBookRequest is repeated string: only a singular scalar or enum field can be set`,
		`response.rename and response.envelope need a JSON object body; library.v1.LibraryService.GetBookCover renders google.api.HttpBody`,
		`response.omit[0]: field create_time.seconds: create_time is google.protobuf.Timestamp, which JSON renders as a value, not its fields (in library.v1.Shelf)`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("unrouted lacks %q:\n%s", want, all)
		}
	}
}

// Config-only mistakes are refused at load, with line and key.
func TestTransformConfigErrors(t *testing.T) {
	_, err := config.Parse([]byte(`
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    routes:
      - method: library.v1.LibraryService.CreateBook
        policies:
          transform:
            request:
              set: [{field: book.author, from: "cookie:sid"}]
              metadata: {set: {X-Upper: "const:v"}}
            errors: {status: {MISSING: 410}, body: '{"m":${msg}}'}
`))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`line 10: upstreams[0].routes[0].policies.transform.request.set[0].from: "cookie:sid" is not a source`,
		`line 11: upstreams[0].routes[0].policies.transform.request.metadata.set: "X-Upper" is not a metadata key`,
		`upstreams[0].routes[0].policies.transform.errors.status: "MISSING" is not an error code name`,
		`upstreams[0].routes[0].policies.transform.errors.body: unknown placeholder at "${msg}}"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A method whose route edits fields or metadata is not served by the
// gRPC proxy, which would pass the client's message through unedited;
// its other methods are.
func TestTransformMethodNotProxied(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, fmt.Sprintf(`
consumers: [{name: app, keys: [{value: k1}]}]
upstreams:
  - name: library
    static: [%q]
    policies: {auth: [api_key]}
    routes:
      - method: library.v1.LibraryService.CreateBook
        policies:
          transform: {request: {set: [{field: book.author, from: "consumer"}]}}
      - method: library.v1.LibraryService.GetShelf
        policies:
          transform: {response: {envelope: data}}
`, lib.Addr))
	// The route serves HTTP: the consumer is the author.
	r := h.do(t, "POST", "/v1/shelves/1/books", `{"title":"T","author":"mallory"}`, "X-Api-Key", "k1").expect(t, 200)
	if field(t, r.body, "author") != "app" {
		t.Fatalf("body %s", r.body)
	}
	library := librarypb.NewLibraryServiceClient(dialGateway(t, h))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", "k1")
	_, err := library.CreateBook(ctx, &librarypb.CreateBookRequest{Parent: "shelves/1", Book: &librarypb.Book{Title: "T", Author: "mallory"}})
	if st := status.Convert(err); st.Code() != codes.Unimplemented {
		t.Fatalf("CreateBook through the gRPC proxy: %v", err)
	}
	// A format-only transform (envelope) leaves the method proxied.
	if shelf, err := library.GetShelf(ctx, &librarypb.GetShelfRequest{Name: "shelves/1"}); err != nil || shelf.GetName() != "shelves/1" {
		t.Fatalf("GetShelf: %v %v", shelf, err)
	}
}

// Streaming methods take metadata edits; a field edit on one is refused
// at route build.
func TestTransformStreams(t *testing.T) {
	mds := make(chan metadata.MD, 4)
	echo, err := examples.StartEcho("127.0.0.1:0", grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if strings.HasPrefix(info.FullMethod, "/echo.v1.") {
			md, _ := metadata.FromIncomingContext(ss.Context())
			mds <- md
		}
		return handler(srv, ss)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(echo.Stop)
	h := startGateway(t, echoConfig(echo.Addr, "")+`
    routes:
      - method: echo.v1.EchoService.Expand
        policies:
          transform: {request: {metadata: {set: {x-channel: "header:X-Channel"}}}}
      - method: echo.v1.EchoService.Collect
        policies:
          transform: {request: {set: [{field: message, from: "const:x"}]}}
`)
	h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"hi","count":1}`, "X-Channel", "web").expect(t, 200)
	if md := <-mds; len(md.Get("x-channel")) != 1 || md.Get("x-channel")[0] != "web" {
		t.Fatalf("metadata %v", md)
	}
	un := strings.Join(h.gw.Unrouted()["echo"], "\n")
	if !strings.Contains(un, "echo.v1.EchoService.Collect: route POST /echo.v1.EchoService/Collect: transform: request.set does not apply to client-streaming methods") {
		t.Fatalf("unrouted %s", un)
	}
}
