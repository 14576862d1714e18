package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// rawClient does not ask for or undo compression itself: the test sees
// the bytes on the wire.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func rawDo(t *testing.T, method, url string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	return out
}

func TestResponseCompression(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(lib.Addr, "")+`
  - name: echo
    static: ["`+echo.Addr+`"]
compression: {enabled: true, min_bytes: 200}
`)
	_, plain := rawDo(t, "GET", h.base+"/v1/shelves", nil)
	if len(plain) < 200 {
		t.Fatalf("the list is too short for the test: %d bytes", len(plain))
	}
	for accept, want := range map[string]string{
		"gzip": "gzip", "zstd": "zstd", "br": "br", "gzip, br;q=0.5, zstd": "zstd",
		"gzip;q=1, zstd;q=0": "gzip", "identity": "", "*": "zstd", "": "",
	} {
		resp, b := rawDo(t, "GET", h.base+"/v1/shelves", nil, "Accept-Encoding", accept)
		if got := resp.Header.Get("Content-Encoding"); got != want {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want %q", accept, got, want)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("no Vary: %v", resp.Header)
		}
		if want != "" && resp.Header.Get("Content-Length") == strconv.Itoa(len(plain)) {
			t.Fatalf("a compressed body with the plain length: %v", resp.Header)
		}
		if got := decode(t, want, b); !bytes.Equal(got, plain) {
			t.Fatalf("%q: decoded %q, want %q", accept, got, plain)
		}
	}
	// Below the threshold: as it is.
	resp, b := rawDo(t, "GET", h.base+"/v1/shelves/1", nil, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Length") == "" || !bytes.Contains(b, []byte(`"shelves/1"`)) {
		t.Fatalf("small response: %v %s", resp.Header, b)
	}

	t.Run("a stream flushes each message", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/echo.v1.EchoService/Expand",
			strings.NewReader(`{"text":"first","count":2,"intervalMs":10000}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := rawClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("stream headers %v", resp.Header)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		// The second message is ten seconds away: the first must arrive
		// on its own.
		line, err := bufio.NewReader(zr).ReadString('\n')
		if err != nil || !strings.Contains(line, `"message":"first"`) {
			t.Fatalf("first message: %q %v", line, err)
		}
	})
}

// compressionSeen records the request compression of each call a backend
// receives.
type compressionSeen struct {
	mu  sync.Mutex
	got []string
}

func (c *compressionSeen) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}
func (c *compressionSeen) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok && strings.HasPrefix(h.FullMethod, "/library.") {
		c.mu.Lock()
		c.got = append(c.got, h.Compression)
		c.mu.Unlock()
	}
}
func (c *compressionSeen) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (c *compressionSeen) HandleConn(context.Context, stats.ConnStats) {}

func TestRequestDecompression(t *testing.T) {
	seen := &compressionSeen{}
	lib := startLibrary(t, grpc.StatsHandler(seen))
	h := startGateway(t, libraryConfig(lib.Addr, "    grpc_compression: gzip\n")+"max_body_bytes: 1048576\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"theme":"Zipped"}`))
	_ = zw.Close()
	resp, b := rawDo(t, "POST", h.base+"/v1/shelves", &gz, "Content-Type", "application/json", "Content-Encoding", "gzip")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"theme":"Zipped"`) {
		t.Fatalf("gzip body: %d %s", resp.StatusCode, b)
	}
	enc, _ := zstd.NewWriter(nil)
	zb := enc.EncodeAll([]byte(`{"theme":"Zstd"}`), nil)
	resp, b = rawDo(t, "POST", h.base+"/v1/shelves", bytes.NewReader(zb), "Content-Type", "application/json", "Content-Encoding", "zstd")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"theme":"Zstd"`) {
		t.Fatalf("zstd body: %d %s", resp.StatusCode, b)
	}
	seen.mu.Lock()
	calls := append([]string(nil), seen.got...)
	seen.mu.Unlock()
	if len(calls) != 2 || calls[0] != "gzip" || calls[1] != "gzip" {
		t.Fatalf("the upstream saw request compression %q, want gzip twice (grpc_compression)", calls)
	}

	// A bomb: 64 MiB of zeros in about 64 KiB of gzip, against a 1 MiB
	// limit. It is refused at the limit; the backend never sees it.
	var bomb bytes.Buffer
	bw := gzip.NewWriter(&bomb)
	zeros := make([]byte, 1<<20)
	for range 64 {
		_, _ = bw.Write(zeros)
	}
	_ = bw.Close()
	resp, b = rawDo(t, "POST", h.base+"/v1/shelves", &bomb, "Content-Type", "application/json", "Content-Encoding", "gzip")
	if bomb.Len() >= 1<<20 {
		t.Fatalf("the bomb is %d bytes coded: it must be under the limit", bomb.Len())
	}
	if resp.StatusCode != 413 || !strings.Contains(string(b), "1048576") {
		t.Fatalf("bomb: %d %s", resp.StatusCode, b)
	}
	if n := len(seen.got); n != 2 {
		t.Fatalf("the backend saw %d calls after the bomb, want 2", n)
	}
	resp, b = rawDo(t, "POST", h.base+"/v1/shelves", strings.NewReader("x"), "Content-Type", "application/json", "Content-Encoding", "compress")
	if resp.StatusCode != 415 || !strings.Contains(string(b), `Content-Encoding \"compress\" is not supported`) {
		t.Fatalf("unknown coding: %d %s", resp.StatusCode, b)
	}
}
