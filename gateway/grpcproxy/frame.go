package grpcproxy

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// protoCodec is grpc-go's own protobuf codec.
func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2(proto.Name) }

// Frame is one gRPC message as opaque bytes: what the proxy receives from
// one side and sends to the other without decoding it.
type Frame struct{ b []byte }

// Bytes is the message's encoding.
func (f *Frame) Bytes() []byte { return f.b }

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
	return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*Frame)
	if !ok {
		return protoCodec().Unmarshal(data, v)
	}
	// A copy: grpc-go reuses data's buffers once Unmarshal returns.
	f.b = data.Materialize()
	return nil
}
