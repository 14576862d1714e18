package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// With compat: grpc-gateway, the library and echo examples answer the way
// grpc-gateway v2's runtime answers, byte for byte, on the wire choices
// the switch owns; the expectations below are grpc-gateway's (its
// runtime's handler.go, errors.go and mux.go, v2.32), and bench/'s
// TestCompatAgainstGRPCGateway checks the same choices against a real
// grpc-gateway over one backend.

// trailerInterceptor answers every library call with header metadata, and
// trailing metadata holding a text value, a binary one that is UTF-8 and a
// binary one with a control byte.
func trailerInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", "library-1"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-cost", "3", "x-note-bin", "Gjøvik", "x-raw-bin", "\x00\x01"))
	return handler(ctx, req)
}

func startCompatLibrary(t *testing.T, mode string) *harness {
	t.Helper()
	lib := startLibrary(t, grpc.UnaryInterceptor(trailerInterceptor))
	return startGateway(t, libraryConfig(lib.Addr, "    compat: "+mode+"\n"))
}

// call sends a request through a plain HTTP/1.1 client and reads the whole
// answer, trailers included.
func call(t *testing.T, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// rawExchange sends req on a new connection to addr and reads the answer
// until the server closes it (req should say Connection: close).
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func expectAnswer(t *testing.T, resp *http.Response, body string, status int, contentType, wantBody string) {
	t.Helper()
	if resp.StatusCode != status || body != wantBody {
		t.Fatalf("got %d %q\nwant %d %q", resp.StatusCode, body, status, wantBody)
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentType {
		t.Fatalf("Content-Type %q, want %q", ct, contentType)
	}
}

func TestCompatMethodNotAllowed(t *testing.T) {
	h := startCompatLibrary(t, "grpc-gateway")
	resp, body := call(t, "PUT", h.base+"/v1/shelves", "")
	expectAnswer(t, resp, body, 501, "application/json", `{"code":12,"message":"Method Not Allowed","details":[]}`)
	if a := resp.Header.Values("Allow"); a != nil {
		t.Fatalf("Allow %q: grpc-gateway sends none", a)
	}
	// A path nothing serves is still refract's 404.
	resp, body = call(t, "PUT", h.base+"/v2/nothing", "")
	expectAnswer(t, resp, body, 404, "application/json", `{"code":5,"message":"no route for PUT /v2/nothing","details":[]}`)

	// The default stays HTTP's 405 with Allow.
	d := startCompatLibrary(t, "refract")
	resp, body = call(t, "PUT", d.base+"/v1/shelves", "")
	expectAnswer(t, resp, body, 405, "application/json", `{"code":12,"message":"method PUT is not allowed on /v1/shelves; allowed: GET, POST","details":[]}`)
	if a := resp.Header.Get("Allow"); a != "GET, POST" {
		t.Fatalf("Allow %q", a)
	}
}

func TestCompatUnaryTrailers(t *testing.T) {
	h := startCompatLibrary(t, "grpc-gateway")
	const shelf = `{"name":"shelves/1","theme":"Fiction","bookCount":"2","createTime":"2024-01-01T00:00:00Z"}`
	wantTrailers := http.Header{
		"Grpc-Trailer-X-Cost":     {"3"},
		"Grpc-Trailer-X-Note-Bin": {"Gjøvik"}, // decoded, as grpc-gateway sends it
		"Grpc-Trailer-X-Raw-Bin":  {"AAE="},   // a control byte: base64, never raw
	}
	check := func(t *testing.T, resp *http.Response, status int, body, want string) {
		t.Helper()
		expectAnswer(t, resp, body, status, "application/json", want)
		if got := resp.Header.Get("Grpc-Metadata-X-Served-By"); got != "library-1" {
			t.Fatalf("Grpc-Metadata-X-Served-By %q", got)
		}
		if resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
			t.Fatalf("Content-Length %d, Transfer-Encoding %q: trailers need a chunked body", resp.ContentLength, resp.TransferEncoding)
		}
		if fmt.Sprint(resp.Trailer) != fmt.Sprint(wantTrailers) {
			t.Fatalf("trailers %v\nwant %v", resp.Trailer, wantTrailers)
		}
		for k := range wantTrailers {
			if v := resp.Header.Values(k); v != nil {
				t.Fatalf("%s also sent as a header: %q", k, v)
			}
		}
	}
	resp, body := call(t, "GET", h.base+"/v1/shelves/1", "", "TE", "trailers")
	check(t, resp, 200, body, shelf)
	// On the wire: the trailers announced in the header, and after the
	// last chunk.
	raw := rawExchange(t, strings.TrimPrefix(h.base, "http://"), "GET /v1/shelves/1 HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
	head, rest, _ := strings.Cut(raw, "\r\n\r\n")
	var declared []string
	for _, l := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Trailer: "); ok {
			declared = append(declared, v)
		}
	}
	slices.Sort(declared)
	if !slices.Equal(declared, []string{"Grpc-Trailer-X-Cost", "Grpc-Trailer-X-Note-Bin", "Grpc-Trailer-X-Raw-Bin"}) || !strings.Contains(head, "\r\nTransfer-Encoding: chunked") {
		t.Fatalf("head %q", head)
	}
	if want := fmt.Sprintf("%x\r\n%s\r\n0\r\nGrpc-Trailer-X-Cost: 3\r\nGrpc-Trailer-X-Note-Bin: Gjøvik\r\nGrpc-Trailer-X-Raw-Bin: AAE=\r\n\r\n", len(shelf), shelf); rest != want {
		t.Fatalf("body and trailers %q\nwant %q", rest, want)
	}
	// grpc-gateway's error handler forwards trailers the same way.
	resp, body = call(t, "GET", h.base+"/v1/shelves/9", "", "TE", "trailers")
	check(t, resp, 404, body, `{"code":5,"message":"library.v1.Shelf \"shelves/9\" not found","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"library.v1.Shelf","resourceName":"shelves/9","owner":"","description":"no such resource"}]}`)

	// Without TE: trailers, grpc-gateway sends no trailing metadata at all.
	resp, body = call(t, "GET", h.base+"/v1/shelves/1", "")
	expectAnswer(t, resp, body, 200, "application/json", shelf)
	if resp.Header.Get("Grpc-Metadata-X-Served-By") != "library-1" || resp.Header.Get("Grpc-Trailer-X-Cost") != "" || resp.ContentLength != int64(len(shelf)) || len(resp.Trailer) != 0 {
		t.Fatalf("headers %v, trailers %v, length %d", resp.Header, resp.Trailer, resp.ContentLength)
	}
	// The default dialect sends it as headers (base64 for binary values),
	// with or without TE: trailers, and never trailers on a unary call.
	d := startCompatLibrary(t, "refract")
	resp, body = call(t, "GET", d.base+"/v1/shelves/1", "", "TE", "trailers")
	expectAnswer(t, resp, body, 200, "application/json", shelf)
	if resp.Header.Get("Grpc-Trailer-X-Cost") != "3" || resp.Header.Get("Grpc-Trailer-X-Note-Bin") != "R2rDuHZpaw==" || len(resp.Trailer) != 0 || resp.ContentLength != int64(len(shelf)) {
		t.Fatalf("headers %v, trailers %v", resp.Header, resp.Trailer)
	}
}

func TestCompatEchoStreams(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, echoConfig(echo.Addr, "")+"    compat: grpc-gateway\n")
	d := startGateway(t, echoConfig(echo.Addr, ""))

	// A stream that fails before its first message: grpc-gateway's error
	// line with the mapped status; refract's default is a plain Status.
	// Details carry their unpopulated fields, as grpc-gateway's marshaler
	// (EmitUnpopulated) writes them.
	const st = `{"code":3,"message":"invalid count: must be between 0 and 1000, got -1","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"count","description":"must be between 0 and 1000, got -1","reason":"","localizedMessage":null}]}]}`
	const refractSt = `{"code":3,"message":"invalid count: must be between 0 and 1000, got -1","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"count","description":"must be between 0 and 1000, got -1"}]}]}`
	resp, body := call(t, "POST", h.base+"/echo.v1.EchoService/Expand", `{"text":"hi","count":-1}`)
	expectAnswer(t, resp, body, 400, "application/json", `{"error":`+st+"}\n")
	resp, body = call(t, "POST", d.base+"/echo.v1.EchoService/Expand", `{"text":"hi","count":-1}`)
	expectAnswer(t, resp, body, 400, "application/json", refractSt)

	// A stream that succeeds, and one that fails after its first message,
	// are grpc-gateway's shape in both dialects.
	resp, body = call(t, "POST", h.base+"/echo.v1.EchoService/Expand", `{"text":"hi","count":2}`)
	expectAnswer(t, resp, body, 200, "application/json", "{\"result\":{\"message\":\"hi\",\"index\":0}}\n{\"result\":{\"message\":\"hi\",\"index\":1}}\n")
	resp, body = call(t, "POST", h.base+"/echo.v1.EchoService/Flood", `{"count":2,"failAfter":1}`)
	expectAnswer(t, resp, body, 200, "application/json", "{\"result\":{\"message\":\"\",\"index\":0}}\n{\"error\":{\"code\":10,\"message\":\"flood failed after 1 responses, as asked\",\"details\":[]}}\n")

	// HttpBody chunks: grpc-gateway ends each with its delimiter, a newline.
	resp, body = call(t, "POST", h.base+"/echo.v1.EchoService/Download", `{"size":10,"chunkBytes":4,"contentType":"text/plain"}`)
	expectAnswer(t, resp, body, 200, "text/plain", "abcd\nefgh\nij\n")
	resp, body = call(t, "POST", d.base+"/echo.v1.EchoService/Download", `{"size":10,"chunkBytes":4,"contentType":"text/plain"}`)
	expectAnswer(t, resp, body, 200, "text/plain", "abcdefghij")
	// A download failing at once answers like any stream.
	resp, body = call(t, "POST", h.base+"/echo.v1.EchoService/Download", `{"size":-1}`)
	if resp.StatusCode != 400 || !strings.HasPrefix(body, `{"error":{"code":3,"message":"invalid size`) || !strings.HasSuffix(body, "}\n") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// SSE, asked for by the client, keeps refract's shape.
	resp, body = call(t, "POST", h.base+"/echo.v1.EchoService/Expand", `{"text":"hi","count":-1}`, "Accept", "text/event-stream")
	expectAnswer(t, resp, body, 400, "application/json", st)
}
