package gateway_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn is one client connection written and read by hand.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, base string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// response reads one response within a safety net of 30s.
func (c *rawConn) response(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return resp, body
}

// closedWithin checks the server closes the connection within bound,
// having written nothing more.
func (c *rawConn) closedWithin(t *testing.T, bound time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(bound))
	rest, err := io.ReadAll(c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open after %s", bound)
	}
	if len(rest) != 0 {
		t.Fatalf("the server wrote more after the answer: %q", rest)
	}
}

// TestChunkedWithContentLengthClosesConnection sends a request with both
// Transfer-Encoding: chunked and Content-Length and a second request
// pipelined behind it: the first is answered with Connection: close and
// the connection closed, so the second (what a proxy framing by
// Content-Length would take for the rest of the body) is never served
// (RFC 9112 §6.3). A request that states only its length keeps the
// connection.
func TestChunkedWithContentLengthClosesConnection(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, hostileConfig(lib.Addr, echo.Addr, ""))
	const next = "GET /v1/shelves/1 HTTP/1.1\r\nHost: gw.test\r\n\r\n"

	c := dialRaw(t, h.base)
	if _, err := io.WriteString(c, "POST /v1/echo HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\n"+
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\"hi\"\r\n0\r\n\r\n"+next); err != nil {
		t.Fatal(err)
	}
	resp, body := c.response(t)
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("status %d, Connection %q (want it closed): %s", resp.StatusCode, resp.Header.Get("Connection"), body)
	}
	c.closedWithin(t, 10*time.Second)

	// Control: with only Content-Length, both pipelined requests are served.
	c = dialRaw(t, h.base)
	if _, err := io.WriteString(c, "POST /v1/echo HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\n"+
		"Content-Length: 4\r\n\r\n\"hi\""+next); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if resp, body := c.response(t); resp.StatusCode != 200 || resp.Close {
			t.Fatalf("request %d: status %d, close %v: %s", i+1, resp.StatusCode, resp.Close, body)
		}
	}
}

// TestSlowBodyCutOff trickles unary request bodies: announced longer than
// sent, a byte at a time (Content-Length and chunked), and over HTTP/2
// (h2c). Each is answered 408 DEADLINE_EXCEEDED naming
// limits.body_read_timeout (an HTTP/1 connection is closed), instead of
// being held open until read_timeout. A body that pauses but keeps the
// pace is served.
func TestSlowBodyCutOff(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	const limit = time.Second
	h := startGateway(t, hostileConfig(lib.Addr, echo.Addr, "  body_read_timeout: 1s\n  min_body_rate: 1024"))
	head := "POST /echo.v1.EchoService/Echo HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\n"

	expect408 := func(t *testing.T, c *rawConn) {
		t.Helper()
		resp, body := c.response(t)
		code, msg := statusBody(t, body)
		if resp.StatusCode != http.StatusRequestTimeout || code != 4 || !resp.Close ||
			!strings.Contains(msg, "limits.body_read_timeout") || !strings.Contains(msg, "limits.min_body_rate") {
			t.Fatalf("status %d, close %v, code %d: %s", resp.StatusCode, resp.Close, code, msg)
		}
		c.closedWithin(t, limit+5*time.Second)
	}
	// trickle writes one byte of s at a time until the server stops
	// reading or the test ends.
	trickle := func(c *rawConn, s string) {
		go func() {
			for i := 0; i < len(s); i++ {
				if _, err := io.WriteString(c, s[i:i+1]); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}

	t.Run("short of its Content-Length", func(t *testing.T) {
		c := dialRaw(t, h.base)
		if _, err := io.WriteString(c, head+"Content-Length: 100\r\n\r\n"+`{"message":"twenty b`); err != nil {
			t.Fatal(err)
		}
		expect408(t, c)
	})
	t.Run("a byte at a time", func(t *testing.T) {
		c := dialRaw(t, h.base)
		body := `{"message":"` + strings.Repeat("x", 80) + `"}`
		if _, err := io.WriteString(c, head+"Content-Length: 94\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		trickle(c, body)
		expect408(t, c)
	})
	t.Run("chunked, a chunk at a time", func(t *testing.T) {
		c := dialRaw(t, h.base)
		if _, err := io.WriteString(c, head+"Transfer-Encoding: chunked\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		trickle(c, strings.Repeat("1\r\n \r\n", 200))
		expect408(t, c)
	})
	t.Run("HTTP/2, short and silent", func(t *testing.T) {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		client := &http.Client{Transport: &http.Transport{Protocols: &protos}, Timeout: limit + 5*time.Second}
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = io.WriteString(pw, `{"message":"twenty b`) }() // then silence
		req, err := http.NewRequest("POST", h.base+"/echo.v1.EchoService/Echo", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("no answer within %s: %v", limit+5*time.Second, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if code, msg := statusBody(t, body); resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || code != 4 {
			t.Fatalf("%s %d, code %d: %s", resp.Proto, resp.StatusCode, code, msg)
		}
	})
	t.Run("a pause within the pace", func(t *testing.T) {
		c := dialRaw(t, h.base)
		if _, err := io.WriteString(c, head+"Content-Length: 16\r\n\r\n"+`{"message"`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(limit / 5)
		if _, err := io.WriteString(c, `:"hi"}`); err != nil {
			t.Fatal(err)
		}
		if resp, body := c.response(t); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}
