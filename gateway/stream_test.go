package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
)

func TestServerStreamNDJSON(t *testing.T) {
	checkLeaks(t)
	echo, _ := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))

	t.Run("grpc-gateway framing, metadata and trailers", func(t *testing.T) {
		resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"hi","count":3}`), "TE", "trailers")
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		want := `{"result":{"message":"hi","index":0}}` + "\n" +
			`{"result":{"message":"hi","index":1}}` + "\n" +
			`{"result":{"message":"hi","index":2}}` + "\n"
		if unspace(string(body)) != want {
			t.Fatalf("body\n%s\nwant\n%s", body, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json (grpc-gateway's)", ct)
		}
		if v := resp.Header.Get("Grpc-Metadata-X-Served-By"); v != "echo-1" {
			t.Errorf("header metadata %q", v)
		}
		if v := resp.Trailer.Get("Grpc-Status"); v != "0" {
			t.Errorf("Grpc-Status trailer %q", v)
		}
		if v := resp.Trailer.Get("Grpc-Trailer-X-Cost"); v != "7" {
			t.Errorf("trailer metadata %q (trailers %v)", v, resp.Trailer)
		}
	})
	t.Run("application/x-ndjson when asked for", func(t *testing.T) {
		resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"hi","count":1}`), "Accept", "application/x-ndjson")
		body, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		if unspace(string(body)) != `{"result":{"message":"hi","index":0}}`+"\n" {
			t.Fatalf("body %q", body)
		}
		if len(resp.Trailer) != 0 {
			t.Errorf("trailers %v sent to a client that did not ask for them", resp.Trailer)
		}
	})
	t.Run("empty stream", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"hi","count":0}`).expect(t, 200)
		if len(r.body) != 0 {
			t.Fatalf("body %q", r.body)
		}
	})
	t.Run("a stream that fails before its first message answers with its own status", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"","count":1}`).expect(t, 400)
		jsonEq(t, r.body, `{"code":3,"message":"invalid text: is required","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"text","description":"is required"}]}]}`)
	})
	t.Run("bad request JSON never reaches the backend", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":`).expect(t, 400)
		if field(t, r.body, "code") != 3.0 {
			t.Fatalf("body %s", r.body)
		}
	})
}

// TestServerStreamFlushesEachMessage proves by ordering that messages are
// not buffered until the stream ends: the backend does not send its second
// message until the client has read the first through the gateway.
func TestServerStreamFlushesEachMessage(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	for _, tc := range []struct {
		accept, first, second string
		read                  func(*testing.T, *bufio.Reader) string
	}{
		{"", `{"result":{"message":"x","index":0}}`, `{"result":{"message":"x","index":1}}`, readLine},
		{"text/event-stream", "id: 0\ndata: {\"message\":\"x\",\"index\":0}", "id: 1\ndata: {\"message\":\"x\",\"index\":1}", readEvent},
	} {
		t.Run("accept "+tc.accept, func(t *testing.T) {
			release := probe.holdAfterFirst()
			defer release()
			resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"x","count":2}`), "Accept", tc.accept)
			br := bufio.NewReader(resp.Body)
			if got := tc.read(t, br); got != tc.first {
				t.Fatalf("first %q, want %q", got, tc.first)
			}
			if n := probe.sent.Load(); n < 1 {
				t.Fatalf("backend sent %d", n)
			}
			release() // only now may the backend send the second message
			if got := tc.read(t, br); got != tc.second {
				t.Fatalf("second %q, want %q", got, tc.second)
			}
			probe.waitEnd(t)
		})
	}
}

func TestServerStreamSSE(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "keepalive: 20ms"))

	t.Run("events, ids and the end event", func(t *testing.T) {
		resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"hi","count":2}`), "Accept", "text/event-stream")
		body, _ := io.ReadAll(resp.Body)
		want := "id: 0\ndata: {\"message\":\"hi\",\"index\":0}\n\n" +
			"id: 1\ndata: {\"message\":\"hi\",\"index\":1}\n\n" +
			"event: end\ndata: {\"code\":0,\"message\":\"\",\"details\":[]}\n\n"
		if unspace(string(body)) != want {
			t.Fatalf("body\n%q\nwant\n%q", body, want)
		}
		for k, v := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Grpc-Metadata-X-Served-By": "echo-1"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
	})
	t.Run("keep-alive comments while idle", func(t *testing.T) {
		release := probe.holdAfterFirst()
		defer release()
		resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"hi","count":2}`), "Accept", "text/event-stream")
		br := bufio.NewReader(resp.Body)
		readEvent(t, br)
		// The backend is held: what comes next can only be keep-alives.
		if got := readEvent(t, br); got != ": keep-alive" {
			t.Fatalf("got %q while the stream was idle", got)
		}
		release()
		for {
			ev := readEvent(t, br)
			if ev == ": keep-alive" {
				continue
			}
			if ev != "id: 1\ndata: {\"message\":\"hi\",\"index\":1}" {
				t.Fatalf("event %q", ev)
			}
			break
		}
		probe.waitEnd(t)
	})
}

// TestStreamErrors checks a failure in the middle of a stream in every
// framing: the messages before it, then the Status where the framing puts
// it.
func TestStreamErrors(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "framing: {echo.v1.EchoService.Flood: json_array}"))
	const status = `{"code":10,"message":"flood failed after 2 responses, as asked","details":[]}`
	req := `{"count":5,"payloadBytes":1,"failAfter":2}`
	msg := func(i int) string { return fmt.Sprintf(`{"message":"x","index":%d}`, i) }

	t.Run("ndjson", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Flood", req, "Accept", "application/x-ndjson").expect(t, 200)
		want := `{"result":` + msg(0) + "}\n" + `{"result":` + msg(1) + "}\n" + `{"error":` + status + "}\n"
		if unspace(string(r.body)) != want {
			t.Fatalf("body\n%s\nwant\n%s", r.body, want)
		}
	})
	t.Run("sse", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Flood", req, "Accept", "text/event-stream").expect(t, 200)
		want := "id: 0\ndata: " + msg(0) + "\n\nid: 1\ndata: " + msg(1) + "\n\nevent: error\ndata: " + status + "\n\n"
		if unspace(string(r.body)) != want {
			t.Fatalf("body\n%q\nwant\n%q", r.body, want)
		}
	})
	t.Run("json array by config", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Flood", req).expect(t, 200)
		want := "[" + msg(0) + "," + msg(1) + `,{"error":` + status + "}]"
		if unspace(string(r.body)) != want {
			t.Fatalf("body\n%s\nwant\n%s", r.body, want)
		}
		ok := h.do(t, "POST", "/echo.v1.EchoService/Flood", `{"count":2,"payloadBytes":1}`).expect(t, 200)
		if unspace(string(ok.body)) != "["+msg(0)+","+msg(1)+"]" {
			t.Fatalf("body %s", ok.body)
		}
		empty := h.do(t, "POST", "/echo.v1.EchoService/Flood", `{"count":0}`).expect(t, 200)
		if string(empty.body) != "[]" {
			t.Fatalf("body %s", empty.body)
		}
	})
	t.Run("raw HttpBody with trailers", func(t *testing.T) {
		probe.failAfterSends(2)
		defer probe.failAfterSends(0)
		resp := h.open(t, "POST", "/echo.v1.EchoService/Download", strings.NewReader(`{"size":100,"chunkBytes":10}`), "TE", "trailers")
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != "abcdefghijklmnopqrst" {
			t.Fatalf("body %q", body)
		}
		if resp.Trailer.Get("Grpc-Status") != "15" || resp.Trailer.Get("Grpc-Message") != "the disk went away after 2 messages" {
			t.Fatalf("trailers %v", resp.Trailer)
		}
	})
	t.Run("raw HttpBody without trailers aborts the transfer", func(t *testing.T) {
		probe.failAfterSends(2)
		defer probe.failAfterSends(0)
		resp := h.open(t, "POST", "/echo.v1.EchoService/Download", strings.NewReader(`{"size":100,"chunkBytes":10}`))
		body, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read %q, %v; want an unexpected EOF", body, err)
		}
	})
}

func TestHTTPBodyStreams(t *testing.T) {
	checkLeaks(t)
	echo, _ := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))

	t.Run("download", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Download", `{"size":30000,"chunkBytes":4096,"contentType":"text/csv"}`).expect(t, 200)
		if ct := r.header.Get("Content-Type"); ct != "text/csv" {
			t.Errorf("Content-Type %q", ct)
		}
		if len(r.body) != 30000 || string(r.body[:28]) != "abcdefghijklmnopqrstuvwxyzab" || r.body[29999] != byte('a'+29999%26) {
			t.Fatalf("body of %d bytes: %q…", len(r.body), r.body[:min(40, len(r.body))])
		}
	})
	t.Run("upload", func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB: four 32 KiB chunks
		resp := h.open(t, "POST", "/echo.v1.EchoService/Upload", bytes.NewReader(data), "Content-Type", "image/png")
		body, _ := io.ReadAll(resp.Body)
		sum := sha256.Sum256(data)
		want := fmt.Sprintf(`{"contentType":"image/png","chunks":"4","bytes":"100000","sha256":%q}`, hex.EncodeToString(sum[:]))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		jsonEq(t, body, want)
	})
}

// TestCancellationReachesBackend: a client that goes away mid-stream
// cancels the upstream call at once (the backend would otherwise sleep 10 s
// before its next message).
func TestCancellationReachesBackend(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	for _, accept := range []string{"application/x-ndjson", "text/event-stream"} {
		t.Run(accept, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/echo.v1.EchoService/Expand",
				strings.NewReader(`{"text":"slow","count":5,"intervalMs":10000}`))
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			cancel()
			end := probe.waitEnd(t)
			if end.ctxErr != context.Canceled {
				t.Fatalf("backend call ended with context error %v (returned %v), want context.Canceled", end.ctxErr, end.err)
			}
		})
	}
}

// TestBackpressure: a client that stops reading stops the backend. The
// backend floods 80 MB; the client reads one message and waits. The
// backend must end up blocked in Send (flow control) after a bounded
// number of messages instead of finishing into gateway memory.
func TestBackpressure(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "buffer_messages: 4"))
	const count, size = 20_000, 4096
	resp := h.open(t, "POST", "/echo.v1.EchoService/Flood", strings.NewReader(fmt.Sprintf(`{"count":%d,"payloadBytes":%d}`, count, size)))
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	readLine(t, br)
	// Wait until the backend is stuck in Send with the same count three
	// polls in a row: it can go no further while nobody reads.
	last, same := int64(-1), 0
	eventually(t, 20*time.Second, "the backend to block in Send", func() bool {
		n := probe.sent.Load()
		if probe.inSend.Load() == 1 && n == last {
			same++
		} else {
			same = 0
		}
		last = n
		return same >= 3
	})
	sent := probe.sent.Load()
	if sent >= count {
		t.Fatalf("the backend sent all %d messages to a client that read one", sent)
	}
	// Loopback socket buffers, HTTP/2 windows and the gateway's buffer
	// together stay far below the 80 MB the backend wants to send: about
	// 4 MB measured, with 4 messages of buffer. A gateway that read 4096
	// ahead (the most buffer_messages allows) would be past 16 MB.
	if ahead := sent * size; ahead > 16<<20 {
		t.Fatalf("the backend ran %d bytes ahead of the client", ahead)
	}
	t.Logf("backend blocked after %d messages (%d KiB) with the client reading none", sent, sent*size>>10)
	// Reading the rest releases it: the stream completes.
	n := 1
	for {
		if _, err := br.ReadString('\n'); err != nil {
			break
		}
		n++
	}
	if n != count {
		t.Fatalf("read %d messages, want %d", n, count)
	}
}

// TestClientStream streams 10,000 request messages through the gateway.
// The backend must receive the first of them while the client is still
// sending, which proves the body is not buffered whole.
func TestClientStream(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	// The limit is on each message both ways: Collect's answer is ~30 kB.
	h := startGateway(t, echoConfig(echo.Addr, "max_message_bytes: 65536"))

	t.Run("10,000 NDJSON messages", func(t *testing.T) {
		const n = 10_000
		before := probe.recvd.Load()
		pr, pw := io.Pipe()
		streamed := make(chan bool, 1)
		go func() {
			bw := bufio.NewWriter(pw)
			for i := range n {
				fmt.Fprintf(bw, "{\"message\":\"m%d\"}\n", i%10)
				if i == 100 {
					bw.Flush()
					// Hold the rest of the body until the backend has the
					// first message: with a buffered body it never would,
					// and the wait ends only at its (generous) bound.
					deadline := time.Now().Add(20 * time.Second)
					for probe.recvd.Load() == before && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
					streamed <- probe.recvd.Load() > before
				}
			}
			bw.Flush()
			pw.Close()
		}()
		resp := h.open(t, "POST", "/echo.v1.EchoService/Collect", pr, "Content-Type", "application/x-ndjson")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := field(t, body, "index"); got != float64(n) {
			t.Fatalf("backend counted %v messages, want %d", got, n)
		}
		if msg := field(t, body, "message").(string); !strings.HasPrefix(msg, "m0 m1 m2") || len(strings.Fields(msg)) != n {
			t.Fatalf("message %.40q… with %d words", msg, len(strings.Fields(msg)))
		}
		if got := probe.recvd.Load() - before; got != n {
			t.Fatalf("backend received %d messages", got)
		}
		if !<-streamed {
			t.Fatal("the backend received no message while the client held back all but 101 of its 10,000: the body was buffered, not streamed")
		}
	})
	t.Run("JSON array body", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Collect", ` [{"message":"a"}, {"message":"b","repeat":2}] `).expect(t, 200)
		jsonEq(t, r.body, `{"message":"a b b","index":2}`)
	})
	t.Run("a bad message ends the call", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Collect", "{\"message\":\"a\"}\n{\"message\":7}\n", "Content-Type", "application/x-ndjson").expect(t, 400)
		msg := field(t, r.body, "message").(string)
		if field(t, r.body, "code") != 3.0 || !strings.HasPrefix(msg, "message 1: request body:") {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("message over max_message_bytes", func(t *testing.T) {
		big := `{"message":"` + strings.Repeat("y", 70000) + `"}`
		r := h.do(t, "POST", "/echo.v1.EchoService/Collect", `{"message":"a"}`+"\n"+big+"\n", "Content-Type", "application/x-ndjson").expect(t, 429)
		jsonEq(t, r.body, `{"code":8,"message":"request message 1 exceeds the limit of 65536 bytes per message","details":[]}`)
	})
	t.Run("unclosed JSON array", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Collect", `[{"message":"a"}`).expect(t, 400)
		jsonEq(t, r.body, `{"code":3,"message":"request body: the JSON array of messages is not closed after 1 messages","details":[]}`)
	})
	t.Run("not JSON", func(t *testing.T) {
		r := h.do(t, "POST", "/echo.v1.EchoService/Collect", `a=b`, "Content-Type", "application/x-www-form-urlencoded").expect(t, 415)
		if field(t, r.body, "code") != 3.0 {
			t.Fatalf("body %s", r.body)
		}
	})
}

// TestBidiNDJSONOverHTTP2: with HTTP/2 (h2c here) the client sends and
// receives at once: each answer arrives before the next request is written.
func TestBidiNDJSONOverHTTP2(t *testing.T) {
	checkLeaks(t)
	echo, _ := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	client := h2cClient(t)

	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(withTimeout(t, 20*time.Second), "POST", h.base+"/echo.v1.EchoService/Chat", pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	go func() { _, _ = io.WriteString(pw, `{"message":"one"}`+"\n") }()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s", resp.Proto)
	}
	br := bufio.NewReader(resp.Body)
	if got := readLine(t, br); got != `{"result":{"message":"one","index":0}}` {
		t.Fatalf("first answer %q", got)
	}
	if _, err := io.WriteString(pw, `{"message":"two","repeat":2}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, br); got != `{"result":{"message":"two two","index":1}}` {
		t.Fatalf("second answer %q", got)
	}
	pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the end: %q, %v", rest, err)
	}
}

func TestWebSocketBidi(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "max_message_bytes: 256, keepalive: 50ms"))
	wsURL := "ws" + strings.TrimPrefix(h.base, "http") + "/echo.v1.EchoService/Chat"
	dial := func(t *testing.T) *websocket.Conn {
		c, resp, err := websocket.Dial(withTimeout(t, 10*time.Second), wsURL, nil)
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, resp)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	send := func(t *testing.T, c *websocket.Conn, s string) {
		if err := c.Write(t.Context(), websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(t *testing.T, c *websocket.Conn) string {
		typ, b, err := c.Read(withTimeout(t, 10*time.Second))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ != websocket.MessageText {
			t.Fatalf("frame type %v", typ)
		}
		return string(b)
	}

	t.Run("echo", func(t *testing.T) {
		c := dial(t)
		for i, m := range []string{"a", "b", "c"} {
			send(t, c, fmt.Sprintf(`{"message":%q}`, m))
			if got, want := unspace(recv(t, c)), fmt.Sprintf(`{"result":{"message":%q,"index":%d}}`, m, i); got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		}
		send(t, c, "") // end of the client's messages
		_, _, err := c.Read(t.Context())
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("close: %v", err)
		}
		probe.waitEnd(t)
	})
	t.Run("backend error closes with the status", func(t *testing.T) {
		c := dial(t)
		send(t, c, `{"message":""}`)
		got := recv(t, c)
		if !strings.HasPrefix(got, `{"error":{"code":3,"message":"invalid message: is required","details":[`) {
			t.Fatalf("last frame %s", got)
		}
		_, _, err := c.Read(t.Context())
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4000+websocket.StatusCode(codes.InvalidArgument) || ce.Reason != "invalid message: is required" {
			t.Fatalf("close: %v", err)
		}
		probe.waitEnd(t)
	})
	t.Run("message over the size limit", func(t *testing.T) {
		c := dial(t)
		send(t, c, `{"message":"`+strings.Repeat("z", 300)+`"}`)
		_, _, err := c.Read(t.Context())
		if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
			t.Fatalf("close: %v", err)
		}
		probe.waitEnd(t)
	})
	t.Run("a peer that does not answer pings is dropped", func(t *testing.T) {
		c := dial(t)
		// Pongs are sent by the client's reads; not reading leaves the
		// gateway's pings unanswered until it ends the call.
		end := probe.waitEnd(t)
		if end.ctxErr != context.Canceled {
			t.Fatalf("backend context %v", end.ctxErr)
		}
		got := recv(t, c)
		if got != `{"error":{"code":14,"message":"the WebSocket peer did not answer a ping within 50ms","details":[]}}` {
			t.Fatalf("last frame %s", got)
		}
		_, _, err := c.Read(t.Context())
		if code := websocket.CloseStatus(err); code != 4014 {
			t.Fatalf("close: %v", err)
		}
	})
	t.Run("server stream refuses WebSocket", func(t *testing.T) {
		_, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(h.base, "http")+"/echo.v1.EchoService/Expand", nil)
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Fatalf("dial: %v %v", err, resp)
		}
	})
	t.Run("foreign origin", func(t *testing.T) {
		_, resp, err := websocket.Dial(t.Context(), wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("dial: %v %v", err, resp)
		}
	})
}

func TestStreamLimits(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)

	t.Run("max_per_client", func(t *testing.T) {
		h := startGateway(t, echoConfig(echo.Addr, "max_per_client: 1"))
		release := probe.holdAfterFirst()
		defer release()
		first := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"a","count":2}`))
		readLine(t, bufio.NewReader(first.Body))
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"b","count":1}`).expect(t, 429)
		host, _, _ := net.SplitHostPort(strings.TrimPrefix(h.base, "http://"))
		jsonEq(t, r.body, fmt.Sprintf(`{"code":8,"message":"too many concurrent streams from %s to upstream \"echo\": the limit is 1; close one first","details":[]}`, host))
		// Unary calls are not streams and are not counted.
		h.do(t, "POST", "/echo.v1.EchoService/Echo", `{"message":"u"}`).expect(t, 200)
		release()
		io.ReadAll(first.Body)
		probe.waitEnd(t)
		eventually(t, 5*time.Second, "the slot to be released", func() bool {
			return h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"b","count":1}`).status == 200
		})
		probe.waitEnd(t)
	})
	t.Run("idle_timeout", func(t *testing.T) {
		h := startGateway(t, echoConfig(echo.Addr, "idle_timeout: 100ms"))
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"a","count":2,"intervalMs":10000}`, "Accept", "application/x-ndjson").expect(t, 200)
		want := `{"result":{"message":"a","index":0}}` + "\n" +
			`{"error":{"code":4,"message":"the stream was idle for 100ms (no message either way); the limit is streams.idle_timeout","details":[]}}` + "\n"
		if unspace(string(r.body)) != want {
			t.Fatalf("body\n%s\nwant\n%s", r.body, want)
		}
		if end := probe.waitEnd(t); end.ctxErr != context.Canceled {
			t.Fatalf("backend context %v", end.ctxErr)
		}
	})
	t.Run("max_duration", func(t *testing.T) {
		h := startGateway(t, echoConfig(echo.Addr, "max_duration: 150ms"))
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"a","count":2,"intervalMs":10000}`, "Accept", "text/event-stream").expect(t, 200)
		want := "id: 0\ndata: {\"message\":\"a\",\"index\":0}\n\n" +
			"event: error\ndata: {\"code\":4,\"message\":\"the stream reached its maximum duration of 150ms\",\"details\":[]}\n\n"
		if unspace(string(r.body)) != want {
			t.Fatalf("body\n%q\nwant\n%q", r.body, want)
		}
		probe.waitEnd(t)
	})
	t.Run("response message over max_message_bytes", func(t *testing.T) {
		h := startGateway(t, echoConfig(echo.Addr, "max_message_bytes: 1024"))
		h.do(t, "POST", "/echo.v1.EchoService/Flood", `{"count":2,"payloadBytes":1000}`).expect(t, 200)
		r := h.do(t, "POST", "/echo.v1.EchoService/Flood", `{"count":2,"payloadBytes":2000}`).expect(t, 429)
		// 2003 bytes: the 2000-byte message field with its tag and length.
		jsonEq(t, r.body, `{"code":8,"message":"a response message exceeds the limit of 1024 bytes per message (streams.max_message_bytes): grpc: received message larger than max (2003 vs. 1024)","details":[]}`)
		probe.waitEnd(t)
		probe.waitEnd(t)
	})
	t.Run("a shorter Grpc-Timeout wins", func(t *testing.T) {
		h := startGateway(t, echoConfig(echo.Addr, ""))
		r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"a","count":2,"intervalMs":10000}`, "Grpc-Timeout", "100m").expect(t, 200)
		if !strings.Contains(string(r.body), `{"error":{"code":4,"message":"the stream reached its maximum duration of 100ms"`) {
			t.Fatalf("body %s", r.body)
		}
		probe.waitEnd(t)
	})
}

func TestStreamingRoutesListed(t *testing.T) {
	checkLeaks(t)
	echo, _ := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	got := map[string]string{}
	for _, r := range h.gw.Routes() {
		got[r.GRPCMethod] = r.Streaming
	}
	for method, want := range map[string]string{
		"echo.v1.EchoService.Echo": "", "echo.v1.EchoService.Expand": "server",
		"echo.v1.EchoService.Collect": "client", "echo.v1.EchoService.Chat": "bidi",
		"echo.v1.EchoService.Download": "server", "echo.v1.EchoService.Upload": "client",
	} {
		if s, ok := got[method]; !ok || s != want {
			t.Errorf("%s: routed %v, streaming %q, want %q", method, ok, s, want)
		}
	}
}

// TestBidiNDJSONOverHTTP1: a whole NDJSON body to a bidi method over
// HTTP/1.1 answers every message, and the connection stays usable for the
// next request.
func TestBidiNDJSONOverHTTP1(t *testing.T) {
	checkLeaks(t)
	echo, _ := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	for i := range 5 {
		r := h.do(t, "POST", "/echo.v1.EchoService/Chat", "{\"message\":\"a\"}\n{\"message\":\"b\"}\n", "Content-Type", "application/x-ndjson").expect(t, 200)
		want := `{"result":{"message":"a","index":0}}` + "\n" + `{"result":{"message":"b","index":1}}` + "\n"
		if unspace(string(r.body)) != want {
			t.Fatalf("request %d: body %q", i, r.body)
		}
	}
	// A bad message in the middle: the answers before it, then the error line.
	r := h.do(t, "POST", "/echo.v1.EchoService/Chat", "{\"message\":\"a\"}\n{\"message\":\"\"}\n{\"message\":\"c\"}\n", "Content-Type", "application/x-ndjson").expect(t, 200)
	lines := strings.Split(strings.TrimSuffix(unspace(string(r.body)), "\n"), "\n")
	if len(lines) != 2 || lines[0] != `{"result":{"message":"a","index":0}}` || !strings.HasPrefix(lines[1], `{"error":{"code":3,"message":"invalid message: is required"`) {
		t.Fatalf("body %q", r.body)
	}
}

// TestShutdownEndsStreams: streams never finish on their own, so shutdown
// ends them with UNAVAILABLE instead of waiting out the grace period (and
// failing with it).
func TestShutdownEndsStreams(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, "shutdown_timeout: 5s\n"+echoConfig(echo.Addr, ""))
	resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"a","count":2,"intervalMs":10000}`), "Accept", "text/event-stream")
	br := bufio.NewReader(resp.Body)
	readEvent(t, br)
	c, _, err := websocket.Dial(withTimeout(t, 10*time.Second), "ws"+strings.TrimPrefix(h.base, "http")+"/echo.v1.EchoService/Chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"message":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := readEvent(t, br); got != `event: error`+"\n"+`data: {"code":14,"message":"the gateway is shutting down; open the stream again","details":[]}` {
		t.Fatalf("SSE got %q", got)
	}
	_, frame, err := c.Read(t.Context())
	if err != nil || string(frame) != `{"error":{"code":14,"message":"the gateway is shutting down; open the stream again","details":[]}}` {
		t.Fatalf("WebSocket got %q, %v", frame, err)
	}
	if _, _, err := c.Read(t.Context()); websocket.CloseStatus(err) != 4014 {
		t.Fatalf("close: %v", err)
	}
	probe.waitEnd(t)
	probe.waitEnd(t)
}
