package grpcproxy

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// protoCodec is grpc-go's own protobuf codec.
func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2(proto.Name) }

// Frame is one gRPC message as opaque bytes: what the proxy receives from
// one side and sends to the other without decoding it. A frame's bytes
// are set once: a frame is not reused for another message.
type Frame struct {
	b    []byte
	held mem.Buffer // grpc-go's receive buffer b lies in, referenced until release
	// out is b as Marshal hands it to grpc-go, built on the first Marshal
	// (a retry's Marshal must not write what the last try may still read).
	sent mem.SliceBuffer
	out  [1]mem.Buffer
}

// Bytes is the message's encoding.
func (f *Frame) Bytes() []byte { return f.b }

// release gives a received frame's buffer back to grpc-go's pool; the
// bytes must not be used afterwards.
func (f *Frame) release() {
	if f.held != nil {
		f.held.Free()
		f.held = nil
	}
	f.b = nil
}

// frameCodec is the codec of both legs of a proxied call: messages stay
// bytes. It names itself "proto" so that the upstream sees the content
// type every protobuf client sends; the services the proxy serves itself
// (reflection) get grpc-go's protobuf codec. Safe for concurrent use.
type frameCodec struct{}

func (frameCodec) Name() string { return "proto" }

func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*Frame)
	if !ok {
		return protoCodec().Marshal(v)
	}
	if f.out[0] == nil {
		f.sent = f.b
		f.out[0] = &f.sent // no allocation: the slice header lives in f
	}
	return f.out[:], nil
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*Frame)
	if !ok {
		return protoCodec().Unmarshal(data, v)
	}
	f.release()
	if len(data) == 1 {
		// One buffer: kept by reference (grpc-go frees data's buffers once
		// Unmarshal returns, so take one of our own) instead of a copy.
		data[0].Ref()
		f.held, f.b = data[0], data[0].ReadOnlyData()
		return nil
	}
	f.b = data.Materialize()
	return nil
}
