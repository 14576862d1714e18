package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
)

func libraryConfig(addr string, extra string) string {
	return fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
%s`, addr, extra)
}

func TestUnaryBindings(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))

	t.Run("GET literal route", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
		jsonEq(t, r.body, `{"shelves":[
			{"name":"shelves/1","theme":"Fiction","bookCount":"2","createTime":"2024-01-01T00:00:00Z"},
			{"name":"shelves/2","theme":"History","bookCount":"1","createTime":"2024-01-01T00:00:00Z"}],"nextPageToken":""}`)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	})
	t.Run("multi-segment variable and WKTs", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200)
		for k, want := range map[string]any{
			"name": "shelves/1/books/1", "pageCount": "304", "genre": "FICTION", "publishTime": "1969-03-01T00:00:00Z",
			"readTime": "34200s", "rating": 4.5, "inStock": true, "titleOriginal": "",
		} {
			if got := field(t, r.body, k); got != want {
				t.Errorf("%s = %#v, want %#v", k, got, want)
			}
		}
	})
	t.Run("additional binding", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/authors/Ursula%20K.%20Le%20Guin/books/1", "").expect(t, 200)
		if got := field(t, r.body, "title"); got != "The Left Hand of Darkness" {
			t.Fatalf("title %v", got)
		}
	})
	t.Run("query parameters", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/shelves/1/books?genre=FICTION&pageSize=1", "").expect(t, 200)
		books := field(t, r.body, "books").([]any)
		if len(books) != 1 || books[0].(map[string]any)["name"] != "shelves/1/books/1" {
			t.Fatalf("books %v", books)
		}
		if field(t, r.body, "nextPageToken") == "" {
			t.Fatal("no next page token with pageSize=1")
		}
		r = h.do(t, "GET", "/v1/shelves/1/books?filter.author=Gabriel+Garc%C3%ADa+M%C3%A1rquez&tags=classic", "").expect(t, 200)
		books = field(t, r.body, "books").([]any)
		if len(books) != 1 || books[0].(map[string]any)["name"] != "shelves/1/books/2" {
			t.Fatalf("books %v", books)
		}
	})
	t.Run("body field, path and query together", func(t *testing.T) {
		r := h.do(t, "POST", "/v1/shelves/2/books?book_id=dune", `{"title":"Dune","author":"Frank Herbert","pageCount":412,"genre":"SCIENCE"}`).expect(t, 200)
		if got := field(t, r.body, "name"); got != "shelves/2/books/dune" {
			t.Fatalf("name %v (body %s)", got, r.body)
		}
		r = h.do(t, "GET", "/v1/shelves/2/books/dune", "").expect(t, 200)
		if field(t, r.body, "pageCount") != "412" || field(t, r.body, "genre") != "SCIENCE" {
			t.Fatalf("stored book %s", r.body)
		}
	})
	t.Run("PATCH with nested path variable fills update_mask", func(t *testing.T) {
		before := h.do(t, "GET", "/v1/shelves/1/books/2", "").expect(t, 200)
		r := h.do(t, "PATCH", "/v1/shelves/1/books/2", `{"title":"Cien años de soledad"}`).expect(t, 200)
		if field(t, r.body, "title") != "Cien años de soledad" {
			t.Fatalf("title not updated: %s", r.body)
		}
		if field(t, r.body, "author") != field(t, before.body, "author") || field(t, r.body, "author") == "" {
			t.Fatalf("a field outside the mask changed: before %s after %s", before.body, r.body)
		}
	})
	t.Run("custom verb with body star", func(t *testing.T) {
		r := h.do(t, "POST", "/v1/shelves/2/books/dune:move", `{"otherShelfName":"shelves/1"}`).expect(t, 200)
		if !strings.HasPrefix(field(t, r.body, "name").(string), "shelves/1/books/") {
			t.Fatalf("moved book %s", r.body)
		}
	})
	t.Run("custom verb merge", func(t *testing.T) {
		h.do(t, "POST", "/v1/shelves", `{"theme":"Poetry"}`).expect(t, 200)
		r := h.do(t, "POST", "/v1/shelves/1:merge", `{"otherShelfName":"shelves/2"}`).expect(t, 200)
		if field(t, r.body, "name") != "shelves/1" {
			t.Fatalf("merge %s", r.body)
		}
		h.do(t, "GET", "/v1/shelves/2", "").expect(t, 404)
	})
	t.Run("custom HTTP method", func(t *testing.T) {
		r := h.do(t, "LOCK", "/v1/shelves/1/books/1", `{}`).expect(t, 200)
		if field(t, r.body, "locked") != true {
			t.Fatalf("lock %s", r.body)
		}
		r = h.do(t, "LOCK", "/v1/shelves/1/books/1", `{"unlock":true}`).expect(t, 200)
		if field(t, r.body, "locked") != false {
			t.Fatalf("unlock %s", r.body)
		}
	})
	t.Run("response_body", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/shelves/1/books/1/title", "").expect(t, 200)
		if string(r.body) != `"The Left Hand of Darkness"` {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("HttpBody both ways", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", h.base+"/v1/shelves/1/books/1/cover", strings.NewReader("\x89PNG raw"))
		req.Header.Set("Content-Type", "image/png")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("upload status %d: %s", resp.StatusCode, body)
		}
		r := h.do(t, "GET", "/v1/shelves/1/books/1/cover", "").expect(t, 200)
		if string(r.body) != "\x89PNG raw" || r.header.Get("Content-Type") != "image/png" {
			t.Fatalf("cover %q %q", r.body, r.header.Get("Content-Type"))
		}
	})
	t.Run("DELETE returns Empty as {}", func(t *testing.T) {
		r := h.do(t, "DELETE", "/v1/shelves/1/books/2", "").expect(t, 200)
		jsonEq(t, r.body, `{}`)
		h.do(t, "GET", "/v1/shelves/1/books/2", "").expect(t, 404)
	})
}

func TestDefaultRoutes(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: echo
    static: [%q]
`, echo.Addr))
	r := h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi","repeat":2}`).expect(t, 200)
	jsonEq(t, r.body, `{"message":"hi hi","index":0}`)
	r = h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":""}`).expect(t, 400)
	if field(t, r.body, "code") != float64(3) {
		t.Fatalf("body %s", r.body)
	}
	r = h.do(t, "GET", "/echo.v1.EchoService/Echo", "").expect(t, 405)
	if r.header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}

	off := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: echo
    static: [%q]
    default_routes: false
`, echo.Addr))
	off.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`).expect(t, 404)
}

func TestConfigRules(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, `
    rules:
      - selector: library.v1.LibraryService.GetShelf
        get: /v2/shelves/{name=*}
        additional_bindings:
          - get: /v2/{name=shelves/*}/info
      - selector: library.v1.LibraryService.ListShelves
        post: /v2/shelves:list
        body: "*"
      - selector: library.v1.LibraryService.Renamed
        get: /v2/renamed
`))
	// An encoded '/' is data only in a "**" part (TestHostileInputs).
	r := h.do(t, "GET", "/v2/shelves/shelves%2F1", "").expect(t, 400)
	if field(t, r.body, "code") != float64(3) || !strings.Contains(field(t, r.body, "message").(string), `an encoded '/' (%2F) is only allowed in a '**' part`) {
		t.Fatalf("encoded slash: %s", r.body)
	}
	r = h.do(t, "GET", "/v2/shelves/1/info", "").expect(t, 200)
	if field(t, r.body, "theme") != "Fiction" {
		t.Fatalf("body %s", r.body)
	}
	// The config rule replaces the annotation: only DeleteShelf is left there.
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 405)
	if r.header.Get("Allow") != "DELETE" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
	r = h.do(t, "POST", "/v2/shelves:list", `{"pageSize":1}`).expect(t, 200)
	if len(field(t, r.body, "shelves").([]any)) != 1 {
		t.Fatalf("body %s", r.body)
	}
	// A rule for a method the upstream does not have is reported, not served.
	h.do(t, "GET", "/v2/renamed", "").expect(t, 404)
	_, admin := get(t, h.admin+"/admin/routes")
	if !strings.Contains(admin, "config rule library.v1.LibraryService.Renamed: no such method in the upstream's services") {
		t.Fatalf("/admin/routes does not report the unused rule: %s", admin)
	}
}

func TestErrors(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "    strict: true\n")+"max_body_bytes: 1024\n")
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		want                     string // the whole google.rpc.Status JSON body
	}{
		{"no route", "GET", "/v9/nothing", "", nil, 404, `{"code":5,"message":"no route for GET /v9/nothing","details":[]}`},
		{"wrong method", "PUT", "/v1/shelves", "", nil, 405, `{"code":12,"message":"method PUT is not allowed on /v1/shelves; allowed: GET, POST","details":[]}`},
		{"backend NOT_FOUND with details", "GET", "/v1/shelves/9", "", nil, 404,
			`{"code":5,"message":"library.v1.Shelf \"shelves/9\" not found","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"library.v1.Shelf","resourceName":"shelves/9","description":"no such resource"}]}`},
		{"backend ALREADY_EXISTS", "POST", "/v1/shelves", `{"name":"shelves/1","theme":"x"}`, nil, 409,
			`{"code":6,"message":"library.v1.Shelf \"shelves/1\" already exists","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"library.v1.Shelf","resourceName":"shelves/1","description":"a resource with this name already exists"}]}`},
		{"malformed JSON", "POST", "/v1/shelves", `{"theme":`, nil, 400, `{"code":3,"message":"request body: unexpected EOF","details":[]}`},
		{"unknown field when strict", "POST", "/v1/shelves", `{"theme":"x","colour":"red"}`, nil, 400, `{"code":3,"message":"request body: (line 1:14): unknown field \"colour\"","details":[]}`},
		{"unknown query parameter when strict", "GET", "/v1/shelves?pageSise=2", "", nil, 400,
			`{"code":3,"message":"query parameter \"pageSise\": unknown field: message library.v1.ListShelvesRequest has no field \"pageSise\"","details":[]}`},
		{"bad query value", "GET", "/v1/shelves?pageSize=lots", "", nil, 400,
			`{"code":3,"message":"query parameter \"pageSize\": invalid value \"lots\" for field library.v1.ListShelvesRequest.page_size: expected a 32-bit integer","details":[]}`},
		{"not JSON", "POST", "/v1/shelves", `theme=x`, []string{"Content-Type", "text/plain"}, 415,
			`{"code":3,"message":"request body: Content-Type \"text/plain\" is not JSON; send application/json","details":[]}`},
		{"body too large", "POST", "/v1/shelves", `{"theme":"` + strings.Repeat("x", 2000) + `"}`, nil, 413,
			`{"code":3,"message":"request body exceeds the limit of 1024 bytes","details":[]}`},
		{"bad Grpc-Timeout", "GET", "/v1/shelves", "", []string{"Grpc-Timeout", "soon"}, 400,
			`{"code":3,"message":"Grpc-Timeout \"soon\": want 1-8 digits and a unit (H, M, S, m, u, n)","details":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.method, tc.path, tc.body, tc.hdr...).expect(t, tc.status)
			if r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
			}
			jsonEq(t, r.body, tc.want)
		})
	}
}

func TestUpstreamUnavailable(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	lib.Stop()
	r := h.do(t, "GET", "/v1/shelves", "").expect(t, 503)
	if code := field(t, r.body, "code"); code != float64(14) {
		t.Fatalf("code %v", code)
	}
	if msg := field(t, r.body, "message").(string); !strings.HasPrefix(msg, `upstream "library" unavailable: `) {
		t.Fatalf("message %q", msg)
	}
}

func TestMetadataBothWays(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	h := startGateway(t, libraryConfig(lib.Addr, "    forward_headers: [Authorization, X-Api-Version]\n"))
	r := h.do(t, "GET", "/v1/shelves", "",
		"Authorization", "Bearer abc",
		"X-Api-Version", "2",
		"X-Request-Id", "not-allowed-here",
		"Cookie", "session=secret",
		"Grpc-Metadata-Tenant", "acme",
		"Grpc-Metadata-Grpc-Timeout", "1n",
		"X-Forwarded-For", "6.6.6.6",
	).expect(t, 200)
	md := rec.lastMD()
	for k, want := range map[string]string{"authorization": "Bearer abc", "x-api-version": "2", "tenant": "acme", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http"} {
		if got := md.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %v, want %q", k, got, want)
		}
	}
	for _, k := range []string{"x-request-id", "cookie"} {
		if got := md.Get(k); len(got) != 0 {
			t.Errorf("metadata %s forwarded: %v", k, got)
		}
	}
	if r.header.Get("Grpc-Metadata-X-Served-By") != "library-1" || r.header.Get("Grpc-Trailer-X-Cost") != "3" {
		t.Fatalf("response headers %v", r.header)
	}
}

func TestDeadlines(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	h := startGateway(t, libraryConfig(lib.Addr, "    timeout: 2s\n"))

	t.Run("Grpc-Timeout shorter than the upstream timeout", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/shelves", "", "Grpc-Metadata-X-Test-Block", "1", "Grpc-Timeout", "100m").expect(t, 504)
		if msg := field(t, r.body, "message").(string); !strings.HasPrefix(msg, `upstream "library" did not answer within 100ms`) {
			t.Fatalf("message %q", msg)
		}
		// The backend sees its deadline pass or the gateway's cancellation,
		// whichever reaches it first; either ends its work.
		if err := <-rec.ctxErr; err != context.DeadlineExceeded && err != context.Canceled {
			t.Fatalf("backend saw %v", err)
		}
	})
	t.Run("upstream timeout", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/shelves", "", "Grpc-Metadata-X-Test-Block", "1", "Grpc-Timeout", "1H").expect(t, 504)
		if msg := field(t, r.body, "message").(string); !strings.HasPrefix(msg, `upstream "library" did not answer within 2s`) {
			t.Fatalf("message %q", msg)
		}
		<-rec.ctxErr
	})
	t.Run("client disconnect cancels the call", func(t *testing.T) {
		rec.mu.Lock()
		before := rec.calls
		rec.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", h.base+"/v1/shelves", nil)
		req.Header.Set("Grpc-Metadata-X-Test-Block", "1")
		errc := make(chan error, 1)
		go func() {
			_, err := http.DefaultClient.Do(req)
			errc <- err
		}()
		// Wait for this call to reach the backend, then hang up.
		eventually(t, 5*time.Second, "the call at the backend", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return rec.calls > before
		})
		cancel()
		<-errc
		select {
		case err := <-rec.ctxErr:
			if err != context.Canceled {
				t.Fatalf("backend saw %v, want context.Canceled", err)
			}
		case <-time.After(1500 * time.Millisecond):
			t.Fatal("the backend call was not cancelled before the upstream timeout")
		}
	})
}
