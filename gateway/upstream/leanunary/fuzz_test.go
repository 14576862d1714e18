package leanunary

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/echo/echopb"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
)

// FuzzResponse plays a hostile backend: after its SETTINGS, whatever
// bytes the fuzzer gives, then it hangs up. A call must end with a
// response or an error, never a panic or a hang, and a response must be
// the message the bytes carried.
func FuzzResponse(f *testing.F) {
	valid := validResponse(1, "hello")
	f.Add(valid)
	f.Add(validResponse(3, "wrong stream"))
	f.Add(append(validResponse(1, "x")[:20], 0xff, 0xff))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		defer lis.Close()
		go func() {
			server, err := lis.Accept()
			if err != nil {
				return
			}
			defer server.Close()
			server.SetDeadline(time.Now().Add(5 * time.Second))
			preface := make([]byte, len(http2.ClientPreface))
			if _, err := io.ReadFull(server, preface); err != nil {
				return
			}
			fr := http2.NewFramer(server, server)
			if fr.WriteSettings() != nil {
				return
			}
			for { // the call's request
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				if _, ok := f.(*http2.HeadersFrame); ok {
					break
				}
			}
			server.Write(data) //nolint:errcheck // a hostile peer does not care
			// Then it hangs up: the call ends at once, with what the bytes
			// said or with the broken connection.
		}()
		p := New(Options{Dial: tcpDial})
		defer p.Close()
		p.SetEndpoints([]string{lis.Addr().String()})
		waitReady(t, p)
		resp := new(echopb.EchoResponse)
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err = p.Invoke(ctx, echoMethod, &echopb.EchoRequest{Message: "x"}, resp)
		}()
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("a call outlived its 100 ms deadline by 5 s:\n%s", buf[:runtime.Stack(buf, true)])
		}
		if bytes.Equal(data, valid) && (err != nil || resp.GetMessage() != "hello") {
			t.Fatalf("a whole response was not read: %v, %q", err, resp.GetMessage())
		}
		// An answer needs a grpc-status trailer, whose name is in no static
		// HPACK table: the bytes must spell it, plain or Huffman-coded.
		if err == nil && !bytes.Contains(data, []byte("grpc-status")) && !bytes.Contains(data, []byte("\x9a\xca\xc8\xb2\x12\x34\xda\x8f")) {
			t.Fatalf("an answer without a status: %q", data)
		}
	})
}

// validResponse is a whole gRPC response on stream id: headers, one
// message, trailers.
func validResponse(id uint32, msg string) []byte {
	var out, hb bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
	body, _ := proto.Marshal(&echopb.EchoResponse{Message: msg})
	fr.WriteData(id, false, append([]byte{0, 0, 0, 0, byte(len(body))}, body...))
	hb.Reset()
	enc.WriteField(hpack.HeaderField{Name: "grpc-status", Value: "0"})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	return out.Bytes()
}
