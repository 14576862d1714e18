package transcode

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples/echo/echopb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// decodeAll reads every message, returning them as JSON and the error that
// ended the stream (nil for io.EOF).
func decodeAll(t *testing.T, b *Binding, body, ct string, limit int64) ([]string, error) {
	t.Helper()
	d, err := b.NewMessageDecoder(strings.NewReader(body), ct, nil, "", limit)
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		m, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		js, _ := protojson.Marshal(m)
		out = append(out, unspace(string(js)))
	}
}

func TestMessageDecoder(t *testing.T) {
	b := echoBinding(t, "Collect")
	for _, tc := range []struct {
		name, body, ct string
		want           []string
		err            string
	}{
		{"ndjson", "{\"message\":\"a\"}\n{\"message\":\"b\",\"repeat\":2}\n", "application/x-ndjson",
			[]string{`{"message":"a"}`, `{"message":"b","repeat":2}`}, ""},
		{"no newline at the end, blank lines", "\n{\"message\":\"a\"}\n\n{\"message\":\"b\"}", "", []string{`{"message":"a"}`, `{"message":"b"}`}, ""},
		{"json array", ` [ {"message":"a"} , {"message":"b"} ] `, "application/json", []string{`{"message":"a"}`, `{"message":"b"}`}, ""},
		{"empty array", `[]`, "application/json", nil, ""},
		{"empty body", ``, "application/x-ndjson", nil, ""},
		{"array is not a wrapper in ndjson", `[{"message":"a"}]`, "application/x-ndjson", nil, "rpc error: code = InvalidArgument desc = message 0: request body:"},
		{"bad JSON", "{\"message\":\"a\"}\n{\"message\":", "", []string{`{"message":"a"}`}, "rpc error: code = InvalidArgument desc = request body: message 1 is not valid JSON"},
		{"wrong field type", `{"message":1}`, "", nil, "rpc error: code = InvalidArgument desc = message 0: request body:"},
		{"unclosed array", `[{"message":"a"}`, "application/json", []string{`{"message":"a"}`}, "rpc error: code = InvalidArgument desc = request body: the JSON array of messages is not closed after 1 messages"},
		{"data after the array", `[{"message":"a"}] {}`, "application/json", []string{`{"message":"a"}`}, "rpc error: code = InvalidArgument desc = request body: unexpected data after the JSON array of 1 messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(t, b, tc.body, tc.ct, 0)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("messages %q, want %q", got, tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Errorf("error %v, want %s…", err, tc.err)
			}
		})
	}
}

func TestMessageDecoderLimit(t *testing.T) {
	b := echoBinding(t, "Collect")
	small := `{"message":"` + strings.Repeat("a", 40) + `"}`
	big := `{"message":"` + strings.Repeat("b", 4000) + `"}`
	got, err := decodeAll(t, b, small+"\n"+small+"\n"+big+"\n"+small, "", 100)
	if len(got) != 2 {
		t.Fatalf("decoded %d messages before the big one", len(got))
	}
	var tooBig *MessageTooLargeError
	if !errors.As(err, &tooBig) || tooBig.Index != 2 || status.Code(err) != codes.ResourceExhausted ||
		err.Error() != "request message 2 exceeds the limit of 100 bytes per message" {
		t.Fatalf("error %v", err)
	}
	// Many messages just under the limit pass, however long the body.
	body := strings.Repeat(small+"\n", 1000)
	if got, err := decodeAll(t, b, body, "", int64(len(small))); err != nil || len(got) != 1000 {
		t.Fatalf("%d messages, %v", len(got), err)
	}
}

func TestMessageDecoderMediaType(t *testing.T) {
	b := echoBinding(t, "Collect")
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "bad;;"} {
		if _, err := b.NewMessageDecoder(strings.NewReader(""), ct, nil, "", 0); err == nil {
			t.Errorf("%q accepted", ct)
		}
	}
	for _, ct := range []string{"application/json", "application/x-ndjson", "application/jsonl", "application/vnd.x+json; charset=utf-8", ""} {
		if _, err := b.NewMessageDecoder(strings.NewReader(""), ct, nil, "", 0); err != nil {
			t.Errorf("%q: %v", ct, err)
		}
	}
}

func TestMessageDecoderRaw(t *testing.T) {
	b := echoBinding(t, "Upload")
	data := strings.Repeat("x", rawChunkBytes+10)
	d, err := b.NewMessageDecoder(strings.NewReader(data), "image/png", nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var cts []string
	for {
		m, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fs := m.ProtoReflect().Descriptor().Fields()
		sizes = append(sizes, len(m.ProtoReflect().Get(fs.ByName("data")).Bytes()))
		cts = append(cts, m.ProtoReflect().Get(fs.ByName("content_type")).String())
	}
	if len(sizes) != 2 || sizes[0] != rawChunkBytes || sizes[1] != 10 || cts[0] != "image/png" || cts[1] != "" {
		t.Fatalf("chunks %v, content types %q", sizes, cts)
	}
	// An empty upload is one empty message that still carries the type.
	d, _ = b.NewMessageDecoder(strings.NewReader(""), "text/plain", nil, "", 0)
	m, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if ct := m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByName("content_type")).String(); ct != "text/plain" {
		t.Fatalf("content type %q", ct)
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the empty message: %v", err)
	}
}

func TestCompileStreaming(t *testing.T) {
	md := echopb.File_echo_v1_echo_proto.Services().ByName("EchoService").Methods().ByName("Chat")
	bs, err := Compile(md, DefaultRule(md), Options{})
	if err != nil || !bs[0].ClientStreaming || !bs[0].ServerStreaming {
		t.Fatalf("%v %v", bs, err)
	}
	rule := DefaultRule(md)
	rule.Body = ""
	// grpc-gateway reads a client stream's messages whole whatever the
	// rule's body: so does a rule without one.
	bs, err = Compile(md, rule, Options{})
	if err != nil || bs[0].BodyField() != "*" {
		t.Fatalf("client stream without a body: %v, body %q", err, bs[0].BodyField())
	}
}
