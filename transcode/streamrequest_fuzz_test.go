package transcode

import (
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// FuzzMessageDecoder feeds arbitrary bodies to the streaming request
// decoder, as NDJSON and as JSON, with a small per-message limit. It must
// never panic; errors are INVALID_ARGUMENT or RESOURCE_EXHAUSTED; and the
// messages it returns, written back as NDJSON, decode to the same messages.
func FuzzMessageDecoder(f *testing.F) {
	for _, s := range []string{
		"", "{}", "{}\n{}", `[{"message":"a"},{"message":"b"}]`, "[]", "[", "]", `[{}`, `[{}] {}`,
		"{\"message\":\"a\"}\n\n{\"message\":\"b\",\"repeat\":3}", `{"message":1}`, `{"message":"` + strings.Repeat("x", 300) + `"}`,
		"\ufeff{}", "{\"message\":\"\\ud800\"}", "{}{}{}", " [ ] ", "null", "[null]", `"str"`, "{\"a\":" + strings.Repeat("[", 100),
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	b := echoBinding(f, "Collect")
	f.Fuzz(func(t *testing.T, body string, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = NDJSONContentType
		}
		d, err := b.NewMessageDecoder(strings.NewReader(body), ct, nil, "", 256)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []proto.Message
		for {
			m, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if c := status.Code(err); c != codes.InvalidArgument && c != codes.ResourceExhausted {
					t.Fatalf("error %v with code %v", err, c)
				}
				break
			}
			msgs = append(msgs, m)
		}
		var again strings.Builder
		for _, m := range msgs {
			js, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			again.Write(js)
			again.WriteByte('\n')
		}
		d2, _ := b.NewMessageDecoder(strings.NewReader(again.String()), NDJSONContentType, nil, "", 0)
		for i, want := range msgs {
			got, err := d2.Next()
			if err != nil {
				t.Fatalf("re-decoding message %d of %q: %v", i, again.String(), err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("message %d: %v, want %v", i, got, want)
			}
		}
		if _, err := d2.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("re-decoding gave more messages: %v", err)
		}
	})
}
