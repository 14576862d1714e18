package transcode

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestStreamEncoderWire renders the same stream of messages through
// AppendMessage (dynamic messages, protojson) and AppendReceived (wire
// bytes, the fast path) in every JSON framing and requires the same frames:
// byte for byte around the messages, equal JSON values inside them.
func TestStreamEncoderWire(t *testing.T) {
	put := kitchenMethod(t, "Put")
	b := compileRule(t, put, DefaultRule(put), Options{})
	codec, err := NewCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []proto.Message
	for _, s := range append(glueSeeds, kitchenBody(0), kitchenBody(3), kitchenItem(7)) {
		if m, err := b.DecodeRequest(Request{Body: []byte(s)}); err == nil {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) < 10 {
		t.Fatalf("only %d seed messages", len(msgs))
	}
	for _, f := range []Framing{FramingNDJSON, FramingSSE, FramingJSONArray} {
		slow, fast := b.NewStreamEncoder(f), b.NewStreamEncoder(f)
		for i, m := range msgs {
			want, err := slow.AppendMessage(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			wm, ok := fast.NewResponse(codec).(*WireMessage)
			if !ok {
				t.Fatalf("framing %v: NewResponse is not a WireMessage", f)
			}
			wm.data = raw
			got, err := fast.AppendReceived([]byte("prefix"), wm)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, []byte("prefix")) || !sameFrame(got[len("prefix"):], want) {
				t.Fatalf("framing %v, message %d:\nfast      %s\nprotojson %s", f, i, got, want)
			}
		}
		if string(slow.AppendEnd(nil)) != string(fast.AppendEnd(nil)) {
			t.Fatalf("framing %v: the ends differ", f)
		}
	}
	raw := b.NewStreamEncoder(FramingRaw)
	if _, ok := raw.NewResponse(codec).(proto.Message); !ok {
		t.Fatal("a raw stream must receive dynamic messages")
	}
}

// sameFrame compares two frames whose JSON may differ in spacing and key
// order: the text outside the first '{' and last '}' byte for byte, the
// JSON inside as values (SSE data lines hold one line of JSON each).
func sameFrame(a, b []byte) bool {
	i, j := bytes.IndexByte(a, '{'), bytes.IndexByte(b, '{')
	k, l := bytes.LastIndexByte(a, '}'), bytes.LastIndexByte(b, '}')
	if i < 0 || j < 0 || k < 0 || l < 0 {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(a[:i], b[:j]) && bytes.Equal(a[k+1:], b[l+1:]) && jsonEqual(a[i:k+1], b[j:l+1])
}
