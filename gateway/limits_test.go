package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/rs/zerolog"
)

// serveGatewayLog is startGateway with the gateway's log (access log
// included) written to the returned buffer.
func serveGatewayLog(t *testing.T, yamlCfg string) (*harness, *testkit.SyncBuffer) {
	t.Helper()
	buf := &testkit.SyncBuffer{}
	h := serveGatewayLogging(t, yamlCfg, zerolog.New(buf))
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := h.gw.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return h, buf
}

// TestSecretsNeverLogged sends credentials every way a client may (an
// Authorization header, an API key header and query parameter, a cookie)
// on accepted and refused requests, and checks the log never holds them.
func TestSecretsNeverLogged(t *testing.T) {
	lib := startLibrary(t)
	h, log := serveGatewayLog(t, libraryConfig(lib.Addr, "")+`
api_keys: {query: api_key}
consumers:
  - name: app
    keys: [{value: s3cret-api-key}]
policies:
  auth: [api_key]
`)
	for _, req := range []string{
		rawRequest("GET", "/v1/shelves/1", "", "X-Api-Key: s3cret-api-key", "Authorization: Bearer s3cret-bearer", "Cookie: sid=s3cret-cookie"),
		rawRequest("GET", "/v1/shelves/1?api_key=s3cret-api-key", ""),
		rawRequest("GET", "/v1/shelves/1", "", "X-Api-Key: s3cret-wrong-key"),
		rawRequest("GET", "/v1/shelves/%2e%2e?api_key=s3cret-api-key", "", "Authorization: Bearer s3cret-bearer"),
		rawRequest("GET", "/v1/shelves/1", "", "X-Api-Key: s3cret-api-key", "Authorization: Bearer s3cret-caf\xc3\xa9"),
	} {
		status, _, body := sendRaw(t, h.base, req)
		if bytes.Contains(body, []byte("s3cret")) {
			t.Errorf("status %d: a secret is in the answer: %s", status, body)
		}
	}
	out := log.String()
	if !strings.Contains(out, `"component":"access"`) {
		t.Fatalf("no access log written: %s", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatalf("a secret reached the log:\n%s", out)
	}
}

// TestResponseOverLimit makes the echo backend answer more than
// limits.max_response_bytes: 502 naming the upstream and the limit, not
// the 429 grpc-go's RESOURCE_EXHAUSTED would map to.
func TestResponseOverLimit(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, hostileConfig(lib.Addr, echo.Addr, "  max_response_bytes: 1024"))
	msg := strings.Repeat("m", 400)
	status, _, body := sendRaw(t, h.base, rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"`+msg+`","repeat":4}`, jsonCT))
	if status != 502 {
		t.Fatalf("status %d: %s", status, body)
	}
	code, m := statusBody(t, body)
	if code != 13 || !strings.Contains(m, `upstream "echo" answered with a message over the limit of 1024 bytes (limits.max_response_bytes)`) {
		t.Fatalf("code %d message %q", code, m)
	}
	// Under the limit the same call goes through.
	if status, _, body := sendRaw(t, h.base, rawRequest("POST", "/echo.v1.EchoService/Echo", `{"message":"`+msg+`"}`, jsonCT)); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
}

// TestSlowlorisClosed sends half a request header and never finishes it:
// the server closes the connection after read_header_timeout instead of
// holding it open.
func TestSlowlorisClosed(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "")+"limits: {read_header_timeout: 300ms}\n")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v1/shelves HTTP/1.1\r\nHost: gw.test\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// A safety net only: the server must close long before.
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(20 * time.Second))
	rest, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
	// Closed by the configured 300ms, not by the 10s default nor at once,
	// and with nothing written back.
	if took := time.Since(start); took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("the connection was closed after %s, want about 300ms (read_header_timeout)", took)
	}
	if len(rest) != 0 {
		t.Fatalf("the server answered unfinished headers with %q", rest)
	}
}

// TestStreamOutlivesServerTimeouts runs streams longer than the server's
// read and write timeouts: streams clear those deadlines and are bounded by
// their own limits (streams: idle_timeout, max_duration), so a slow upload
// is read to its end and a slow server stream delivers every message.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
limits: {write_timeout: 300ms, read_timeout: 300ms}
upstreams:
  - name: echo
    static: [%q]
    timeout: 100ms
`, echo.Addr))
	t.Run("client stream", func(t *testing.T) {
		// 5 messages 150 ms apart: the body takes at least 600 ms to arrive.
		pr, pw := io.Pipe()
		go func() {
			for i := range 5 {
				if i > 0 {
					time.Sleep(150 * time.Millisecond)
				}
				if _, err := fmt.Fprintf(pw, "{\"message\":\"m%d\"}\n", i); err != nil {
					return
				}
			}
			pw.Close()
		}()
		resp := h.open(t, "POST", "/echo.v1.EchoService/Collect", pr, "Content-Type", "application/x-ndjson")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := field(t, body, "message"); got != "m0 m1 m2 m3 m4" {
			t.Fatalf("message %v", got)
		}
	})
	t.Run("server stream", func(t *testing.T) {
		// 6 messages 150 ms apart: the stream takes at least 750 ms.
		resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"hi","count":6,"intervalMs":150}`), "Accept", "application/x-ndjson")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		sc := bufio.NewScanner(resp.Body)
		lines := 0
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"error"`) {
				t.Fatalf("stream failed: %s", sc.Text())
			}
			lines++
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("after %d lines: %v", lines, err)
		}
		if lines != 6 {
			t.Fatalf("%d lines, want 6", lines)
		}
	})
}

// TestUnderscoreHeadersDroppedByDefault: without configuration, a header
// spelled with '_' is dropped before any policy can read it, so an API key
// sent as X_Api_Key authenticates nobody.
func TestUnderscoreHeadersDroppedByDefault(t *testing.T) {
	lib := startLibrary(t)
	const keyed = `
consumers:
  - name: app
    keys: [{value: k1}]
api_keys: {header: X_Api_Key}
policies:
  auth: [api_key]
`
	h := startGateway(t, libraryConfig(lib.Addr, "")+keyed)
	status, _, body := sendRaw(t, h.base, rawRequest("GET", "/v1/shelves/1", "", "X_Api_Key: k1"))
	if status != 401 {
		t.Fatalf("status %d: %s", status, body)
	}
	// Refused as sent without a key at all, not as a wrong key.
	if code, msg := statusBody(t, body); code != 16 || !strings.HasPrefix(msg, "missing credentials") {
		t.Fatalf("code %d message %q, want 16 and missing credentials", code, msg)
	}
	// The control: let through, the same header authenticates.
	h = startGateway(t, libraryConfig(lib.Addr, "")+keyed+"limits: {headers_with_underscores: allow}\n")
	if status, _, body := sendRaw(t, h.base, rawRequest("GET", "/v1/shelves/1", "", "X_Api_Key: k1")); status != 200 || !strings.Contains(string(body), `"theme":"Fiction"`) {
		t.Fatalf("headers_with_underscores: allow: status %d: %s", status, body)
	}
}
