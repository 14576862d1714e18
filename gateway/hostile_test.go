package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// hostileConfig serves the library and echo examples with small limits, so
// each limit is crossed by a request of a few kilobytes. GetShelf also has
// a "**" route, where an encoded '/' is data, and Echo a route whose body is
// the scalar field message.
func hostileConfig(libAddr, echoAddr, extraLimits string) string {
	return fmt.Sprintf(`
max_body_bytes: 2048
limits:
  max_url_bytes: 1024
  max_header_bytes: 4096
  max_json_depth: 16
%s
upstreams:
  - name: library
    static: [%q]
    rules:
      - selector: library.v1.LibraryService.GetShelf
        get: /v1/{name=shelves/*}
        additional_bindings:
          - get: /files/{name=**}
  - name: echo
    static: [%q]
    rules:
      - selector: echo.v1.EchoService.Echo
        post: /echo.v1.EchoService/Echo
        body: "*"
        additional_bindings:
          - post: /v1/echo
            body: message
`, extraLimits, libAddr, echoAddr)
}

// rawRequest is one HTTP/1.1 request as bytes: the target and headers go
// out exactly as written, which no HTTP client library allows for paths
// with dot segments, raw quotes or odd escapes.
func rawRequest(method, target, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// sendRaw writes req on a fresh TCP connection and reads one response.
func sendRaw(t *testing.T, base, req string) (int, http.Header, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// statusBody decodes a google.rpc.Status body.
func statusBody(t *testing.T, body []byte) (int, string) {
	t.Helper()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("not a google.rpc.Status body: %v: %q", err, body)
	}
	return st.Code, st.Message
}

func chunked(method, target string, chunks ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", method, target)
	for _, c := range chunks {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

const jsonCT = "Content-Type: application/json"

// TestHostileInputs sends hostile requests over raw TCP and checks each
// answer: the HTTP status, the google.rpc.Status code and the part of the
// message that tells the caller what to fix. code -1 marks the controls
// that must get through (their message is the body's substring).
func TestHostileInputs(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, hostileConfig(lib.Addr, echo.Addr, "  headers_with_underscores: reject"))

	deep := `{"unknown":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`
	tests := []struct {
		name   string
		req    string
		status int
		code   int
		want   string
	}{
		// Paths: dot segments in every spelling, before any policy or route.
		{"dot-dot segment", rawRequest("GET", "/v1/shelves/../shelves/1", ""), 400, 3, `segment 3 "..": dot segments`},
		{"single dot segment", rawRequest("GET", "/v1/./shelves", ""), 400, 3, `segment 2 ".": dot segments`},
		{"encoded dot-dot", rawRequest("GET", "/v1/shelves/%2e%2e/x", ""), 400, 3, `"%2e%2e": dot segments`},
		{"encoded dot-dot mixed case", rawRequest("GET", "/v1/shelves/%2E%2e/x", ""), 400, 3, `"%2E%2e": dot segments`},
		{"half-encoded dot-dot", rawRequest("GET", "/v1/shelves/.%2E/x", ""), 400, 3, `".%2E": dot segments`},
		{"dot-dot with a path parameter", rawRequest("GET", "/v1/shelves/..;x/1", ""), 400, 3, `"..;x": dot segments`},
		{"trailing dot-dot", rawRequest("GET", "/v1/shelves/1/..", ""), 400, 3, `segment 4 "..": dot segments`},
		// Encoded separators outside "**".
		{"encoded slash in a single-segment variable", rawRequest("GET", "/v1/shelves/1%2F..%2F2", ""), 400, 3, `an encoded '/' (%2F) is only allowed in a '**' part`},
		{"lower-case encoded slash", rawRequest("GET", "/v1/shelves/1%2f2", ""), 400, 3, `an encoded '/' (%2f)`},
		{"encoded backslash", rawRequest("GET", "/v1/shelves/1%5C2", ""), 400, 3, `an encoded '\' (%5C)`},
		{"encoded semicolon", rawRequest("GET", "/v1/shelves/1%3Bx=1", ""), 400, 3, `an encoded ';' (%3B)`},
		{"encoded slash never splits a literal", rawRequest("GET", "/v1%2Fshelves", ""), 404, 5, `no route for GET /v1%2Fshelves`},
		// The control: inside "**" it is data, passed on as sent, and the
		// backend refuses the name itself.
		{"encoded slash inside ** is data", rawRequest("GET", "/files/shelves%2F1", ""), 400, 3, `got "shelves%2F1"`},
		// NUL, control bytes, backslashes and bad UTF-8.
		{"encoded NUL", rawRequest("GET", "/v1/shelves/1%00", ""), 400, 3, `escaped control character %00`},
		{"encoded NUL inside **", rawRequest("GET", "/files/a%00b", ""), 400, 3, `escaped control character %00`},
		{"encoded newline", rawRequest("GET", "/v1/shelves/1%0D%0Ax", ""), 400, 3, `escaped control character %0D`},
		{"raw backslash", rawRequest("GET", `/v1/shelves/1\..\2`, ""), 400, 3, `character '\\' at byte 13 must be percent-encoded (%5C)`},
		{"raw quote", rawRequest("GET", `/v1/shelves/a"b`, ""), 400, 3, `character '"' at byte 13 must be percent-encoded (%22)`},
		{"invalid UTF-8 escape", rawRequest("GET", "/v1/shelves/%FF", ""), 400, 3, `segment 3 "%FF": the decoded segment is not valid UTF-8`},
		{"truncated UTF-8 sequence", rawRequest("GET", "/v1/shelves/caf%C3", ""), 400, 3, `not valid UTF-8`},
		{"raw invalid UTF-8", rawRequest("GET", "/v1/shelves/\xff", ""), 400, 3, `must be percent-encoded`},
		{"invalid UTF-8 in a query value", rawRequest("GET", "/v1/shelves?pageToken=%FF", ""), 400, 3, `query parameter "pageToken": invalid value "\xff" for field library.v1.ListShelvesRequest.page_token: not valid UTF-8`},
		// Internal services are not routes.
		{"reflection v1", rawRequest("POST", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "{}", jsonCT), 404, 5, `no route for POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo`},
		{"reflection v1alpha", rawRequest("POST", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "{}", jsonCT), 404, 5, `no route for POST`},
		{"health check", rawRequest("POST", "/grpc.health.v1.Health/Check", "{}", jsonCT), 404, 5, `no route for POST /grpc.health.v1.Health/Check`},
		// Method override is ignored: the request line decides.
		{"method override does not turn POST into GET", rawRequest("POST", "/v1/shelves/1", "{}", jsonCT, "X-HTTP-Method-Override: GET"), 405, 12, `method POST is not allowed on /v1/shelves/1`},
		{"method override does not turn GET into DELETE", rawRequest("GET", "/v1/shelves/1", "", "X-HTTP-Method-Override: DELETE", "X-Method-Override: DELETE"), 200, -1, `"theme":"Fiction"`},
		// Sizes.
		{"URL over the limit", rawRequest("GET", "/v1/shelves?pageToken="+strings.Repeat("a", 1100), ""), 414, 3, `the limit is 1024 (limits.max_url_bytes)`},
		{"one header over the limit", rawRequest("GET", "/v1/shelves", "", "X-Big: "+strings.Repeat("b", 5000)), 431, 3, `the limit is 4096 (limits.max_header_bytes)`},
		{"many headers over the limit", rawRequest("GET", "/v1/shelves", "", manyHeaders(120)...), 431, 3, `(limits.max_header_bytes)`},
		{"Content-Length over the body limit", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"`+strings.Repeat("m", 3000)+`"}`, jsonCT), 413, 3, `request body exceeds the limit of 2048 bytes`},
		{"chunked body running over the limit", chunked("POST", "/echo.v1.EchoService/Echo", `{"message":"`, strings.Repeat("m", 1500), strings.Repeat("m", 1500), `"}`), 413, 3, `request body exceeds the limit of 2048 bytes`},
		// Headers.
		{"header name with an underscore", rawRequest("GET", "/v1/shelves", "", "X_Api_Key: k"), 400, 3, `names with '_' are refused (limits.headers_with_underscores: reject)`},
		{"tab inside a metadata value", rawRequest("GET", "/v1/shelves", "", "Grpc-Metadata-Tenant: a\tb"), 400, 3, `header Grpc-Metadata-Tenant: value has control byte 0x09`},
		{"binary metadata not base64", rawRequest("GET", "/v1/shelves", "", "Grpc-Metadata-Key-Bin: !!"), 400, 3, `binary metadata must be base64`},
		{"bad Grpc-Timeout", rawRequest("GET", "/v1/shelves", "", "Grpc-Timeout: soon"), 400, 3, `soon`},
		// Content types.
		{"text/plain body", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"hi"}`, "Content-Type: text/plain"), 415, 3, `Content-Type "text/plain" is not JSON`},
		{"form body", rawRequest("POST", "/echo.v1.EchoService/Echo", `message=hi`, "Content-Type: application/x-www-form-urlencoded"), 415, 3, `"application/x-www-form-urlencoded" is not JSON`},
		{"Accept without JSON", rawRequest("GET", "/v1/shelves", "", "Accept: text/html"), 406, 3, `Accept "text/html" allows no JSON`},
		{"Accept refusing JSON by quality", rawRequest("GET", "/v1/shelves", "", "Accept: application/json;q=0, text/csv"), 406, 3, `allows no JSON`},
		{"Accept with a wildcard", rawRequest("GET", "/v1/shelves/1", "", "Accept: text/html, */*;q=0.1"), 200, -1, `"theme":"Fiction"`},
		// JSON bodies.
		{"trailing garbage", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"hi"} x`, jsonCT), 400, 3, `request body: syntax error (line 1:18): invalid value x`},
		{"two documents", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"a"}{"message":"b"}`, jsonCT), 400, 3, `unexpected token {`},
		{"NUL after the document", rawRequest("POST", "/echo.v1.EchoService/Echo", "{\"message\":\"a\"}\x00", jsonCT), 400, 3, `request body: syntax error (line 1:16)`},
		{"duplicate key", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"a","message":"b"}`, jsonCT), 400, 3, `duplicate field "message"`},
		{"duplicate via json_name and proto name", rawRequest("POST", "/v1/shelves/1/books", `{"title":"t","titleOriginal":"a","original_title":"b"}`, jsonCT), 400, 3, `duplicate field "original_title"`},
		{"duplicate via camelCase and snake_case", rawRequest("POST", "/v1/shelves/1/books", `{"title":"t","pageCount":"1","page_count":"2"}`, jsonCT), 400, 3, `duplicate field "page_count"`},
		{"nesting over the depth limit", rawRequest("POST", "/echo.v1.EchoService/Echo", deep, jsonCT), 400, 3, `JSON nested deeper than the limit of 16 levels`},
		{"huge number for int64", rawRequest("POST", "/v1/shelves/1/books", `{"title":"t","pageCount":1e400}`, jsonCT), 400, 3, `invalid value for int64 field pageCount: 1e400`},
		{"int64 overflow", rawRequest("POST", "/v1/shelves/1/books", `{"title":"t","pageCount":"9223372036854775808"}`, jsonCT), 400, 3, `invalid value for int64 field pageCount`},
		{"int32 overflow in a query", rawRequest("GET", "/v1/shelves?pageSize=99999999999", ""), 400, 3, `query parameter "pageSize": invalid value "99999999999"`},
		{"NaN for an integer", rawRequest("POST", "/v1/shelves/1/books", `{"title":"t","pageCount":"NaN"}`, jsonCT), 400, 3, `invalid value for int64 field pageCount: "NaN"`},
		{"invalid UTF-8 in a JSON string", rawRequest("POST", "/echo.v1.EchoService/Echo", "{\"message\":\"\xff\"}", jsonCT), 400, 3, `invalid UTF-8`},
		{"lone surrogate escape", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"\ud800abcdef"}`, jsonCT), 400, 3, `invalid escape code`},
		{"wrong JSON type", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":5}`, jsonCT), 400, 3, `invalid value for string field message: 5`},
		{"document cut short", rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":`, jsonCT), 400, 3, `unexpected EOF`},
		{"scalar body field smuggling another field", rawRequest("POST", "/v1/echo", `"hi","repeat":3`, jsonCT), 400, 3, `request body (the value of field message): syntax error (line 1:5): unexpected data after the JSON value`},
		{"scalar body field alone", rawRequest("POST", "/v1/echo", `"hi"`, jsonCT), 200, -1, `"message":"hi"`},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d hostile inputs", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := sendRaw(t, h.base, tc.req)
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %s", status, tc.status, body)
			}
			if tc.code < 0 {
				if !strings.Contains(unspace(string(body)), tc.want) {
					t.Fatalf("body %s, want it to contain %s", body, tc.want)
				}
				return
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			code, msg := statusBody(t, body)
			if code != tc.code || !strings.Contains(msg, tc.want) {
				t.Fatalf("code %d message %q; want code %d and a message containing %q", code, msg, tc.code, tc.want)
			}
		})
	}
}

func manyHeaders(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "X-Pad-" + strconv.Itoa(i) + ": " + strings.Repeat("p", 40)
	}
	return out
}

// TestHostileHeadersNeverReachUpstream checks what the backend receives:
// no hop-by-hop or Connection-listed header, no client-made forwarding or
// identity header, no cookie, no method override, no underscore header
// (dropped by default), and the gateway's own x-forwarded-for/x-real-ip.
func TestHostileHeadersNeverReachUpstream(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, hostileConfig(lib.Addr, echo.Addr, ""))
	status, _, body := sendRaw(t, h.base, rawRequest("GET", "/v1/shelves/1", "",
		"Connection: close, Traceparent",
		"Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Keep-Alive: timeout=5",
		"Cookie: session=s",
		"Grpc-Metadata-Cookie: session=s",
		"X-Forwarded-For: 6.6.6.6",
		"X-Real-IP: 6.6.6.6",
		"Forwarded: for=6.6.6.6",
		"Grpc-Metadata-X-Forwarded-Host: evil.example",
		"Grpc-Metadata-X-Real-Ip: 6.6.6.6",
		"X-HTTP-Method-Override: DELETE",
		"Grpc-Metadata-X_Tenant: smuggled",
		"Grpc-Metadata-Tenant: acme",
	))
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	md := rec.lastMD()
	for _, k := range []string{"traceparent", "keep-alive", "connection", "cookie", "forwarded", "x-http-method-override", "x_tenant"} {
		if v := md.Get(k); len(v) > 0 {
			t.Errorf("%s reached the upstream: %v", k, v)
		}
	}
	want := metadata.MD{"x-forwarded-for": {"127.0.0.1"}, "x-real-ip": {"127.0.0.1"}, "x-forwarded-host": {"gw.test"}, "tenant": {"acme"}}
	for k, v := range want {
		if got := md.Get(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

// TestConcurrentRequestsPerClient holds one call open in the backend and
// checks that a second one from the same address is refused with 429
// until the first ends.
func TestConcurrentRequestsPerClient(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	hold := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("x-hold")) > 0 {
			entered <- struct{}{}
			<-release
		}
		return handler(ctx, req)
	}
	lib := startLibrary(t, grpc.UnaryInterceptor(hold))
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, hostileConfig(lib.Addr, echo.Addr, "  max_concurrent_per_client: 1"))
	t.Cleanup(free) // after the servers' cleanups were registered, so it runs before them: a failed test never leaves the backend blocked
	first := make(chan int, 1)
	go func() {
		status, _, _ := sendRawNoT(h.base, rawRequest("GET", "/v1/shelves/1", "", "Grpc-Metadata-X-Hold: 1"))
		first <- status
	}()
	<-entered
	status, _, body := sendRaw(t, h.base, rawRequest("GET", "/v1/shelves/1", ""))
	if status != 429 {
		t.Fatalf("second request: status %d, want 429; %s", status, body)
	}
	code, msg := statusBody(t, body)
	if code != 8 || !strings.Contains(msg, "too many concurrent requests from 127.0.0.1: the limit is 1 (limits.max_concurrent_per_client)") {
		t.Fatalf("code %d message %q", code, msg)
	}
	free()
	if s := <-first; s != 200 {
		t.Fatalf("held request: status %d", s)
	}
	if status, _, body := sendRaw(t, h.base, rawRequest("GET", "/v1/shelves/1", "")); status != 200 {
		t.Fatalf("after the held request ended: status %d: %s", status, body)
	}
}

// sendRawNoT is sendRaw for a goroutine that must not call t.Fatal.
func sendRawNoT(base, req string) (int, http.Header, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, nil
}
