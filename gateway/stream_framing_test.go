package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/refract-gateway/refract/gateway/config"
	"google.golang.org/grpc/codes"
)

// TestCancellationEachFraming: a client that goes away cancels the
// upstream call at once, in every framing. The backend holds each stream
// after its first message until its context ends, so only the
// cancellation can end the call before the test does.
func TestCancellationEachFraming(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "framing: {echo.v1.EchoService.Flood: json_array}"))
	h2 := h2cClient(t)

	// open sends a request that the client can cancel, reads the first
	// byte of the answer (the backend has sent its first message) and
	// returns the cancel.
	open := func(t *testing.T, client *http.Client, path string, body io.Reader, hdr ...string) context.CancelFunc {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "POST", h.base+path, body)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		return cancel
	}
	expectCancelled := func(t *testing.T, method string) {
		t.Helper()
		end := probe.waitEnd(t)
		if end.method != method || end.ctxErr != context.Canceled {
			t.Fatalf("backend call %s ended with context error %v (returned %v), want %s cancelled", end.method, end.ctxErr, end.err, method)
		}
	}

	for _, tc := range []struct{ name, path, body, accept string }{
		{"ndjson", "/echo.v1.EchoService/Flood", `{"count":5,"payloadBytes":1}`, "application/x-ndjson"},
		{"sse", "/echo.v1.EchoService/Flood", `{"count":5,"payloadBytes":1}`, "text/event-stream"},
		{"json array", "/echo.v1.EchoService/Flood", `{"count":5,"payloadBytes":1}`, ""},
		{"raw HttpBody", "/echo.v1.EchoService/Download", `{"size":100,"chunkBytes":10}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := probe.holdAfterFirst()
			defer release()
			cancel := open(t, http.DefaultClient, tc.path, strings.NewReader(tc.body), "Accept", tc.accept)
			cancel()
			expectCancelled(t, tc.path)
		})
	}
	t.Run("client stream mid-body", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/echo.v1.EchoService/Collect", pr)
		req.Header.Set("Content-Type", "application/x-ndjson")
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		if _, err := io.WriteString(pw, `{"message":"a"}`+"\n"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the backend to receive the first message", func() bool { return probe.recvd.Load() > 0 })
		cancel()
		// The transport's writer waits for the body's next bytes even
		// after the cancel; end the body so that Do returns.
		pw.CloseWithError(context.Canceled)
		<-done
		expectCancelled(t, "/echo.v1.EchoService/Collect")
	})
	t.Run("bidi ndjson over HTTP/2", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = io.WriteString(pw, `{"message":"one"}`+"\n") }()
		cancel := open(t, h2, "/echo.v1.EchoService/Chat", pr, "Content-Type", "application/x-ndjson")
		cancel()
		// Go's HTTP/2 client resets the stream once its body writer
		// returns from Read; end the body so that it does.
		pw.CloseWithError(context.Canceled)
		expectCancelled(t, "/echo.v1.EchoService/Chat")
	})
	t.Run("websocket", func(t *testing.T) {
		c, _, err := websocket.Dial(withTimeout(t, 10*time.Second), "ws"+strings.TrimPrefix(h.base, "http")+"/echo.v1.EchoService/Chat", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"message":"a"}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Read(withTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		c.CloseNow() // the TCP connection goes, without a close handshake
		expectCancelled(t, "/echo.v1.EchoService/Chat")
	})
}

// TestWebSocketErrorMidStream: the answers before a failure reach the
// client, then the {"error": Status} frame and the close code 4000+code
// with the status message as reason.
func TestWebSocketErrorMidStream(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	c, _, err := websocket.Dial(withTimeout(t, 10*time.Second), "ws"+strings.TrimPrefix(h.base, "http")+"/echo.v1.EchoService/Chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for i, m := range []string{`{"message":"a"}`, `{"message":"b"}`, `{"message":""}`} {
		if err := c.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(withTimeout(t, 10*time.Second))
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		want := fmt.Sprintf(`{"result":{"message":%q,"index":%d}}`, string(rune('a'+i)), i)
		if i == 2 {
			want = `{"error":{"code":3,"message":"invalid message: is required","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message","description":"is required"}]}]}}`
		}
		if unspace(string(got)) != want {
			t.Fatalf("frame %d: %s, want %s", i, got, want)
		}
	}
	_, _, err = c.Read(withTimeout(t, 10*time.Second))
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000+websocket.StatusCode(codes.InvalidArgument) || ce.Reason != "invalid message: is required" {
		t.Fatalf("close: %v", err)
	}
	probe.waitEnd(t)
}

// TestJSONArrayWrittenProgressively: the configured JSON array framing
// writes each element as it arrives, proved by ordering: the backend does
// not send its second message until the client has read the first.
func TestJSONArrayWrittenProgressively(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "framing: {echo.v1.EchoService.Expand: json_array}"))
	release := probe.holdAfterFirst()
	defer release()
	resp := h.open(t, "POST", "/echo.v1.EchoService/Expand", strings.NewReader(`{"text":"x","count":2}`))
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('}')
	if err != nil || unspace(first) != `[{"message":"x","index":0}` {
		t.Fatalf("first element %q, %v", first, err)
	}
	release() // only now may the backend send the second message
	rest, err := io.ReadAll(br)
	if err != nil || unspace(string(rest)) != `,{"message":"x","index":1}]` {
		t.Fatalf("rest %q, %v", rest, err)
	}
	probe.waitEnd(t)
	// An explicit Accept still picks its framing over the configured one.
	r := h.do(t, "POST", "/echo.v1.EchoService/Expand", `{"text":"x","count":1}`, "Accept", "application/x-ndjson").expect(t, 200)
	if unspace(string(r.body)) != `{"result":{"message":"x","index":0}}`+"\n" {
		t.Fatalf("body %q", r.body)
	}
	probe.waitEnd(t)
}

// TestStreamTrailersOverHTTP2: HTTP/2 clients get the status and the
// trailing metadata as HTTP trailers without asking (the protocol always
// carries them); HTTP/1.1 clients only with TE: trailers (TestServerStreamNDJSON).
func TestStreamTrailersOverHTTP2(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	client := h2cClient(t)
	for _, tc := range []struct{ body, status, message, last string }{
		{`{"count":2,"payloadBytes":1}`, "0", "", `{"result":{"message":"x","index":1}}`},
		{`{"count":5,"payloadBytes":1,"failAfter":2}`, "10", "flood failed after 2 responses, as asked",
			`{"error":{"code":10,"message":"flood failed after 2 responses, as asked","details":[]}}`},
	} {
		req, _ := http.NewRequestWithContext(withTimeout(t, 10*time.Second), "POST", h.base+"/echo.v1.EchoService/Flood", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("%s %d: %q, %v", resp.Proto, resp.StatusCode, body, err)
		}
		lines := strings.Split(strings.TrimSuffix(unspace(string(body)), "\n"), "\n")
		if lines[len(lines)-1] != tc.last {
			t.Fatalf("body %q", body)
		}
		if resp.Trailer.Get("Grpc-Status") != tc.status || resp.Trailer.Get("Grpc-Message") != tc.message || resp.Trailer.Get("Grpc-Trailer-X-Cost") != "7" {
			t.Fatalf("trailers %v", resp.Trailer)
		}
		probe.waitEnd(t)
	}
}

// TestStreamDropsClientThatStopsReading: a client that keeps its
// connection open but stops reading is dropped after idle_timeout: the
// gateway's blocked write gives up, the upstream call is cancelled and the
// client's stream slot comes free, however large the stream.
func TestStreamDropsClientThatStopsReading(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "idle_timeout: 300ms, max_per_client: 1"))
	resp := h.open(t, "POST", "/echo.v1.EchoService/Flood", strings.NewReader(`{"count":100000,"payloadBytes":4096}`))
	defer resp.Body.Close()
	readLine(t, bufio.NewReader(resp.Body)) // and then read no more
	end := probe.waitEnd(t)
	if end.ctxErr != context.Canceled {
		t.Fatalf("backend context %v (returned %v)", end.ctxErr, end.err)
	}
	// The slot is free only once the handler has returned, which it could
	// not while stuck writing to a client that reads nothing.
	eventually(t, 10*time.Second, "the stream slot to come free", func() bool {
		return h.do(t, "POST", "/echo.v1.EchoService/Flood", `{"count":1,"payloadBytes":1}`).status == 200
	})
	probe.waitEnd(t)
}

// The streams: example of docs/streaming.md is a valid config with the
// values it says.
func TestReadmeStreamLimitsExampleParses(t *testing.T) {
	fences, _ := yamlBlocks(docSection(t, "streaming.md", "## Limits", "## Measured"))
	if len(fences) != 1 {
		t.Fatalf("the Limits section of docs/streaming.md has %d yaml blocks, want 1", len(fences))
	}
	block := fences[0]
	cfg, err := config.Parse([]byte(block))
	if err != nil {
		t.Fatalf("the streams example does not load: %v\n%s", err, block)
	}
	s := cfg.Upstreams[0].Streams
	if s.MaxMessageBytes != 4<<20 || time.Duration(s.IdleTimeout) != 5*time.Minute || time.Duration(s.MaxDuration) != time.Hour ||
		s.MaxPerClient != 16 || time.Duration(s.KeepAlive) != 15*time.Second || s.BufferMessages != 16 {
		t.Fatalf("streams %+v", s)
	}
}

// TestWebSocketPingsKeepAnsweringPeer: the gateway pings every keepalive,
// and a peer that answers stays connected however many rounds pass. The
// client counts the pings it answers (its reads send the pongs), then
// proves the call is still open by a round trip.
func TestWebSocketPingsKeepAnsweringPeer(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "keepalive: 250ms"))
	pings := make(chan struct{}, 64)
	ctx := withTimeout(t, 30*time.Second)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.base, "http")+"/echo.v1.EchoService/Chat", &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pings <- struct{}{}:
			default:
			}
			return true // answer it
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	frames := make(chan string, 8)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				readErr <- err
				close(frames)
				return
			}
			frames <- string(b)
		}
	}()
	for i := range 5 {
		select {
		case <-pings:
		case err := <-readErr:
			t.Fatalf("the socket ended after %d pings: %v", i, err)
		case <-ctx.Done():
			t.Fatalf("%d pings, want 5", i)
		}
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"message":"still here"}`)); err != nil {
		t.Fatal(err)
	}
	if got := unspace(<-frames); got != `{"result":{"message":"still here","index":0}}` {
		t.Fatalf("after 5 pings: %q", got)
	}
	if err := c.Write(ctx, websocket.MessageText, nil); err != nil {
		t.Fatal(err)
	}
	for range frames {
	}
	if err := <-readErr; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("close: %v", err)
	}
	if end := probe.waitEnd(t); end.err != nil {
		t.Fatalf("backend call ended with %v", end.err)
	}
}

// TestHTTPBodyDownloadChunked: a google.api.HttpBody stream goes out as a
// chunked body (no Content-Length: its length is not known up front) with
// the first message's content type, each chunk as it arrives: the backend
// does not send its second chunk until the client has read the first.
func TestHTTPBodyDownloadChunked(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	release := probe.holdAfterFirst()
	defer release()
	resp := h.open(t, "POST", "/echo.v1.EchoService/Download", strings.NewReader(`{"size":20,"chunkBytes":10,"contentType":"text/csv"}`))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv" || resp.ContentLength != -1 ||
		len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, Content-Type %q, length %d, transfer encoding %v", resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.ContentLength, resp.TransferEncoding)
	}
	first := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "abcdefghij" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	release() // only now may the backend send the second chunk
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "klmnopqrst" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	probe.waitEnd(t)
}

// TestClientStreamIdleTimeout: a client stream whose client stops sending
// (without ending its body) is ended by idle_timeout with 504 and a
// message naming the limit, and the backend call is cancelled.
func TestClientStreamIdleTimeout(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, "idle_timeout: 100ms"))
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = io.WriteString(pw, `{"message":"a"}`+"\n") }() // and then nothing, but no end either
	// A bound, so that a gateway that never answers fails the test rather
	// than hanging the run.
	// (The transport waits for its body writer, so the bound ends the body too.)
	ctx := withTimeout(t, 20*time.Second)
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/echo.v1.EchoService/Collect", pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pw.CloseWithError(err)
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 504 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	jsonEq(t, body, `{"code":4,"message":"the stream was idle for 100ms (no message either way); the limit is streams.idle_timeout","details":[]}`)
	if end := probe.waitEnd(t); end.ctxErr != context.Canceled || probe.recvd.Load() != 1 {
		t.Fatalf("backend context %v after %d messages", end.ctxErr, probe.recvd.Load())
	}
}

// TestBidiNDJSONOverHTTP1Interleaved: over HTTP/1.1 too, a client that
// reads while it sends gets each answer before it sends the next message
// (the gateway reads the body in full duplex).
func TestBidiNDJSONOverHTTP1Interleaved(t *testing.T) {
	checkLeaks(t)
	echo, probe := startProbedEcho(t)
	h := startGateway(t, echoConfig(echo.Addr, ""))
	pr, pw := io.Pipe()
	ctx := withTimeout(t, 20*time.Second)
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/echo.v1.EchoService/Chat", pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	go func() { _, _ = io.WriteString(pw, `{"message":"one"}`+"\n") }()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Fatalf("protocol %s", resp.Proto)
	}
	br := bufio.NewReader(resp.Body)
	if got := readLine(t, br); got != `{"result":{"message":"one","index":0}}` {
		t.Fatalf("first answer %q", got)
	}
	if _, err := io.WriteString(pw, `{"message":"two"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, br); got != `{"result":{"message":"two","index":1}}` {
		t.Fatalf("second answer %q", got)
	}
	pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the end: %q, %v", rest, err)
	}
	if end := probe.waitEnd(t); end.err != nil {
		t.Fatalf("backend call ended with %v", end.err)
	}
}
