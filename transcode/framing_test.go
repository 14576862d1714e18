package transcode

import (
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples/echo/echopb"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// echoBinding compiles the default route of an echo method.
func echoBinding(t testing.TB, name string) *Binding {
	t.Helper()
	md := echopb.File_echo_v1_echo_proto.Services().ByName("EchoService").Methods().ByName(protoreflect.Name(name))
	bs, err := Compile(md, DefaultRule(md), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return bs[0]
}

// unspace undoes protojson's randomized spacing in test data.
func unspace(s string) string {
	return strings.NewReplacer(`, "`, `,"`, `": `, `":`).Replace(s)
}

func TestNegotiateFraming(t *testing.T) {
	b := echoBinding(t, "Expand")
	for _, tc := range []struct {
		accept     string
		configured Framing
		want       Framing
		ct         string
	}{
		{"", FramingNDJSON, FramingNDJSON, "application/json"},
		{"*/*", FramingJSONArray, FramingJSONArray, "application/json"},
		{"application/json", FramingNDJSON, FramingNDJSON, "application/json"},
		{"text/event-stream", FramingNDJSON, FramingSSE, "text/event-stream"},
		{"application/x-ndjson", FramingJSONArray, FramingNDJSON, "application/x-ndjson"},
		{"application/x-ndjson;q=0.5, text/event-stream", FramingNDJSON, FramingSSE, "text/event-stream"},
		{"text/event-stream;q=0.2, application/x-ndjson", FramingNDJSON, FramingNDJSON, "application/x-ndjson"},
		{"text/event-stream;q=0", FramingJSONArray, FramingJSONArray, "application/json"},
		{"text/html, text/event-stream;q=bad", FramingNDJSON, FramingNDJSON, "application/json"},
	} {
		f, ct := b.NegotiateFraming(tc.accept, tc.configured)
		if f != tc.want || ct != tc.ct {
			t.Errorf("Accept %q (configured %v): %v %q, want %v %q", tc.accept, tc.configured, f, ct, tc.want, tc.ct)
		}
	}
	if f, ct := echoBinding(t, "Download").NegotiateFraming("text/event-stream", FramingNDJSON); f != FramingRaw || ct != "" {
		t.Errorf("HttpBody stream: %v %q", f, ct)
	}
}

func TestStreamEncoder(t *testing.T) {
	b := echoBinding(t, "Expand")
	msgs := []proto.Message{&echopb.EchoResponse{Message: "a"}, &echopb.EchoResponse{Message: "b", Index: 1}}
	st := &spb.Status{Code: 10, Message: "gone\nbad"}
	for _, tc := range []struct {
		f         Framing
		ok, error string
	}{
		{FramingNDJSON,
			`{"result":{"message":"a","index":0}}` + "\n" + `{"result":{"message":"b","index":1}}` + "\n",
			`{"error":{"code":10,"message":"gone\nbad","details":[]}}` + "\n"},
		{FramingSSE,
			"id: 0\ndata: {\"message\":\"a\",\"index\":0}\n\nid: 1\ndata: {\"message\":\"b\",\"index\":1}\n\n",
			"event: error\ndata: {\"code\":10,\"message\":\"gone\\nbad\",\"details\":[]}\n\n"},
		{FramingJSONArray,
			`[{"message":"a","index":0},{"message":"b","index":1}`,
			`,{"error":{"code":10,"message":"gone\nbad","details":[]}}]`},
	} {
		enc := b.NewStreamEncoder(tc.f)
		var out []byte
		for _, m := range msgs {
			var err error
			if out, err = enc.AppendMessage(out, m); err != nil {
				t.Fatal(err)
			}
		}
		if got := unspace(string(out)); got != tc.ok {
			t.Errorf("%v messages\n%q\nwant\n%q", tc.f, got, tc.ok)
		}
		if got := string(enc.AppendError(nil, st)); got != tc.error {
			t.Errorf("%v error\n%q\nwant\n%q", tc.f, got, tc.error)
		}
	}
	if got := string(b.NewStreamEncoder(FramingJSONArray).AppendEnd(nil)); got != "[]" {
		t.Errorf("empty array %q", got)
	}
	if got := string(appendSSEData(nil, []byte("a\r\nb\nc"))); got != "data: a\ndata: b\ndata: c\n\n" {
		t.Errorf("multi-line SSE data %q", got)
	}
	if ka := b.NewStreamEncoder(FramingNDJSON).KeepAlive(); ka != nil {
		t.Errorf("NDJSON keep-alive %q", ka)
	}
}

func TestStreamEncoderRaw(t *testing.T) {
	b := echoBinding(t, "Download")
	enc := b.NewStreamEncoder(FramingRaw)
	first := dynamicHTTPBody(t, b, "text/csv", "a,b\n")
	if ct := enc.RawContentType(first); ct != "text/csv" {
		t.Fatalf("content type %q", ct)
	}
	out, err := enc.AppendMessage(nil, first)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = enc.AppendMessage(out, dynamicHTTPBody(t, b, "", "1,2\n"))
	if string(out) != "a,b\n1,2\n" {
		t.Fatalf("raw %q", out)
	}
	if ct := enc.RawContentType(dynamicHTTPBody(t, b, "", "")); ct != "application/octet-stream" {
		t.Fatalf("default content type %q", ct)
	}
	if e := enc.AppendError(nil, &spb.Status{Code: 2}); len(e) != 0 {
		t.Fatalf("raw error bytes %q", e)
	}
}

func dynamicHTTPBody(t *testing.T, b *Binding, ct, data string) proto.Message {
	m := b.NewResponse().ProtoReflect()
	fs := m.Descriptor().Fields()
	m.Set(fs.ByName("content_type"), protoreflect.ValueOfString(ct))
	m.Set(fs.ByName("data"), protoreflect.ValueOfBytes([]byte(data)))
	return m.Interface()
}

func TestParseFraming(t *testing.T) {
	for _, s := range []string{"ndjson", "sse", "json_array"} {
		f, err := ParseFraming(s)
		if err != nil || f.String() != s {
			t.Errorf("%q: %v %v", s, f, err)
		}
	}
	if _, err := ParseFraming("xml"); err == nil || err.Error() != `transcode: framing "xml" is not ndjson, sse or json_array` {
		t.Errorf("xml: %v", err)
	}
}
