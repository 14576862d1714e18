package grpcproxy

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// Frame is one gRPC message as opaque bytes: what the proxy receives from
// one side and sends to the other without decoding it.
type Frame struct{ b []byte }

// Bytes is the message's encoding.
func (f *Frame) Bytes() []byte { return f.b }

// frameCodec is the codec of both legs of a proxied call: messages stay
// bytes. It names itself "proto" so that the upstream sees the content
// type every protobuf client sends. Safe for concurrent use.
type frameCodec struct{}

func (frameCodec) Name() string { return "proto" }

func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*Frame)
	if !ok {
		return nil, fmt.Errorf("grpcproxy: cannot send %T as a frame", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*Frame)
	if !ok {
		return fmt.Errorf("grpcproxy: cannot receive a frame into %T", v)
	}
	// A copy: grpc-go reuses data's buffers once Unmarshal returns.
	f.b = data.Materialize()
	return nil
}
