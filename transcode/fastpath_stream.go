package transcode

import (
	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/protobuf/proto"
)

// NewResponse returns what one message of a server stream is received
// into: a *WireMessage when the fast path renders the binding's responses
// and the framing is JSON (NDJSON, SSE, a JSON array), else the dynamic
// message NewResponse builds. Pass it to AppendReceived once filled.
func (e *StreamEncoder) NewResponse(codec *Codec) any {
	if codec == nil || e.framing == FramingRaw || e.b.fast == nil || e.b.fast.out == nil {
		return e.b.NewResponse()
	}
	return &WireMessage{}
}

// AppendReceived appends one message that NewResponse's value received,
// as AppendMessage appends it, and releases a WireMessage's buffer. Wire
// bytes are rendered straight into dst (in place for NDJSON and JSON
// arrays); bytes only protobuf's merge can decode go through a message.
func (e *StreamEncoder) AppendReceived(dst []byte, msg any) ([]byte, error) {
	m, ok := msg.(*WireMessage)
	if !ok {
		return e.AppendMessage(dst, msg.(proto.Message))
	}
	defer m.Release()
	out, err := e.appendJSON(dst, func(out []byte) ([]byte, error) { return e.b.encodeWire(&e.wire, m.data, out) })
	if err == wirejson.ErrNeedsMerge {
		resp := e.b.NewResponse()
		if err := proto.Unmarshal(m.data, resp); err != nil {
			return dst, err
		}
		return e.AppendMessage(dst, resp)
	}
	return out, err
}
