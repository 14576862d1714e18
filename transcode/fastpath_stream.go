package transcode

import (
	"fmt"

	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/protobuf/proto"
)

// NewResponse returns what one message of a server stream is received
// into: with a codec and a JSON framing (NDJSON, SSE, a JSON array), a
// *WireMessage that the codec measures as it receives it, so a message
// nested deeper than Options.MaxDepth fails the receive with a
// *DepthError (the stream ends with that reason); else the dynamic message
// NewResponse builds. Pass it to AppendReceived once filled.
func (e *StreamEncoder) NewResponse(codec *Codec) any {
	if codec == nil || e.framing == FramingRaw {
		return e.b.NewResponse()
	}
	return &WireMessage{check: e.b.checkReceived}
}

// checkReceived is the receive-time check of a stream message's bytes:
// its nesting, within the binding's budget.
func (b *Binding) checkReceived(data []byte) error {
	if err := wirejson.CheckDepth(b.Method.Output(), data, b.maxDepth); err != nil {
		return b.responseDepth(err)
	}
	return nil
}

// AppendReceived appends one message that NewResponse's value received,
// as AppendMessage appends it, and releases a WireMessage's buffer. Wire
// bytes are rendered straight into dst (in place for NDJSON and JSON
// arrays) when the fast path covers the type; other types, and bytes only
// protobuf's merge can decode, go through a message unmarshalled within
// the depth budget.
func (e *StreamEncoder) AppendReceived(dst []byte, msg any) ([]byte, error) {
	m, ok := msg.(*WireMessage)
	if !ok {
		return e.AppendMessage(dst, msg.(proto.Message))
	}
	defer m.Release()
	if e.b.fast != nil && e.b.fast.out != nil {
		out, err := e.appendJSON(dst, func(out []byte) ([]byte, error) { return e.b.encodeWire(&e.wire, m.data, out) })
		if err != wirejson.ErrNeedsMerge {
			return out, err
		}
	}
	resp := e.b.NewResponse()
	if err := e.b.unmarshalResponse(m.data, resp); err != nil {
		return dst, fmt.Errorf("transcode: encoding %s response: %w", e.b.Method.FullName(), err)
	}
	return e.AppendMessage(dst, resp)
}
