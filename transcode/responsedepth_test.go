package transcode

import (
	"errors"
	"strconv"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// deepKitchen is the wire form of a Kitchen whose child field nests n
// levels below it (n+1 message levels in all), written outermost level
// first so that a deep one costs linear time.
func deepKitchen(n int) []byte {
	leaf := protowire.AppendString(protowire.AppendTag(nil, 19, protowire.BytesType), "x") // Kitchen.cs
	sizes := make([]int, n+1)
	sizes[0] = len(leaf)
	for i := 1; i <= n; i++ {
		sizes[i] = protowire.SizeTag(38) + protowire.SizeVarint(uint64(sizes[i-1])) + sizes[i-1]
	}
	b := make([]byte, 0, sizes[n])
	for i := n; i >= 1; i-- {
		b = protowire.AppendTag(b, 38, protowire.BytesType) // Kitchen.child
		b = protowire.AppendVarint(b, uint64(sizes[i-1]))
	}
	return append(b, leaf...)
}

// deepAny is the wire form of a WithAny whose detail holds a Kitchen
// nested n levels below it.
func deepAny(n int) []byte {
	anyMsg := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "type.googleapis.com/kitchen.v1.Kitchen")
	anyMsg = protowire.AppendBytes(protowire.AppendTag(anyMsg, 2, protowire.BytesType), deepKitchen(n))
	return protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), anyMsg)
}

// receive fills what NewCallResponse or a StreamEncoder's NewResponse
// returned as grpc-go would, through the codec.
func receive(t *testing.T, codec *Codec, into any, data []byte) error {
	t.Helper()
	return codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, into)
}

func wantDepthError(t *testing.T, err error, limit int) {
	t.Helper()
	var de *DepthError
	if !errors.As(err, &de) || de.Limit != limit {
		t.Fatalf("got %v, want a DepthError with limit %d", err, limit)
	}
	if want := "response nests deeper than the limit of " + strconv.Itoa(limit) + " levels"; de.Error() != want {
		t.Fatalf("message %q, want %q", de, want)
	}
}

// TestResponseDepth holds every path that renders an upstream's response
// to the binding's depth budget: the fast path, the dynamic fallback,
// google.protobuf.Any contents, a response_body field, and stream
// messages, which fail as they are received. A response nested 100,000
// levels deep is an error naming the limit on each, and one within the
// budget renders.
func TestResponseDepth(t *testing.T) {
	codec, err := NewCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	var files protoregistry.Files
	if err := files.RegisterFile(kitchenFile(t)); err != nil {
		t.Fatal(err)
	}
	res := dynamicpb.NewTypes(&files)
	put, putAny := kitchenMethod(t, "Put"), kitchenMethod(t, "PutAny")
	const deep = 100_000
	cases := []struct {
		name         string
		b            *Binding
		within, over []byte
		limit        int
	}{
		{"fast path", compileRule(t, put, DefaultRule(put), Options{}), deepKitchen(DefaultMaxDepth - 1), deepKitchen(deep), DefaultMaxDepth},
		{"fast path, configured limit", compileRule(t, put, DefaultRule(put), Options{MaxDepth: 10}), deepKitchen(9), deepKitchen(10), 10},
		{"dynamic path", compileRule(t, put, DefaultRule(put), Options{DisableFastPath: true}), deepKitchen(DefaultMaxDepth - 1), deepKitchen(deep), DefaultMaxDepth},
		{"Any", compileRule(t, putAny, DefaultRule(putAny), Options{Resolver: res}), deepAny(DefaultMaxDepth - 3), deepAny(deep), DefaultMaxDepth},
		{"Any just past the limit", compileRule(t, putAny, DefaultRule(putAny), Options{Resolver: res}), deepAny(DefaultMaxDepth - 3), deepAny(DefaultMaxDepth - 2), DefaultMaxDepth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Unary: received as bytes, refused when rendered.
			resp := c.b.NewCallResponse(codec)
			if err := receive(t, codec, resp, c.within); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.b.EncodeCallResponse(resp, codec); err != nil {
				t.Fatalf("within the limit: %v", err)
			}
			resp = c.b.NewCallResponse(codec)
			if err := receive(t, codec, resp, c.over); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.b.EncodeCallResponse(resp, codec)
			wantDepthError(t, err, c.limit)

			// A message decoded elsewhere (grpc-go's codec, 10,000 levels).
			msg := c.b.NewResponse()
			if err := (proto.UnmarshalOptions{RecursionLimit: 20_000}).Unmarshal(c.over, msg); err == nil {
				_, _, err = c.b.EncodeResponse(msg)
				wantDepthError(t, err, c.limit)
			}

			// Streams: the receive itself fails, so the stream ends with the reason.
			for _, f := range []Framing{FramingNDJSON, FramingSSE, FramingJSONArray} {
				enc := c.b.NewStreamEncoder(f)
				m := enc.NewResponse(codec)
				if err := receive(t, codec, m, c.within); err != nil {
					t.Fatal(err)
				}
				if _, err := enc.AppendReceived(nil, m); err != nil {
					t.Fatalf("stream, within the limit: %v", err)
				}
				m = enc.NewResponse(codec)
				err := receive(t, codec, m, c.over)
				if c.name == "Any" || c.name == "Any just past the limit" {
					// Any contents are bytes to the receive-time check: the
					// rendering refuses them.
					if err == nil {
						_, err = enc.AppendReceived(nil, m)
					}
				}
				wantDepthError(t, err, c.limit)
			}
		})
	}
}

// TestResponseBodyDepth: a response_body route renders one field but
// refuses a response nested too deep anywhere, as the whole message.
func TestResponseBodyDepth(t *testing.T) {
	codec, err := NewCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	put := kitchenMethod(t, "Put")
	rule := DefaultRule(put)
	rule.ResponseBody = "child"
	b := compileRule(t, put, rule, Options{})
	resp := b.NewCallResponse(codec)
	if err := receive(t, codec, resp, deepKitchen(100_000)); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.EncodeCallResponse(resp, codec)
	wantDepthError(t, err, DefaultMaxDepth)
}
