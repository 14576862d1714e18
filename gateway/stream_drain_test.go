package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestClientStreamFailsEarlyClientFinishes: when the backend fails a
// client stream while the client is still sending, the client reads the
// Status at once and may then finish its body (the gateway drains a
// bounded amount instead of closing under it, which would make the
// client's writes fail with a broken pipe before it read the answer); the
// connection then stays usable.
func TestClientStreamFailsEarlyClientFinishes(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, echoConfig(echo.Addr, ""))
	c, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first message is invalid: Collect fails on it. The body states
	// its length (a chunked one closes the connection after the answer,
	// against request smuggling), 64 KiB more follow.
	first, line := `{"message":""}`+"\n", `{"message":"`+strings.Repeat("x", 1000)+`"}`+"\n"
	if _, err := io.WriteString(c, fmt.Sprintf("POST /echo.v1.EchoService/Collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s",
		len(first)+64*len(line), first)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer while the body is unfinished: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || !strings.HasPrefix(string(body), `{"code":3,"message":"invalid message: is required"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// The client goes on sending the rest of its body.
	for range 64 {
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatalf("the rest of the body: %v", err)
		}
	}
	// The body was drained: the connection serves the next request.
	if _, err := io.WriteString(c, "POST /echo.v1.EchoService/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"+`{"message":"hi"}`+"\n"); err != nil {
		t.Fatalf("a second request on the connection: %v", err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the second answer: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != `{"message":"hi","index":0}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
