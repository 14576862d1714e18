package transcode

import (
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/transcode/wirejson"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Framing is how the messages of a server stream are laid out in one HTTP
// response body.
type Framing int

const (
	// FramingNDJSON writes one {"result": <message>} line per message and a
	// last {"error": <google.rpc.Status>} line on failure: grpc-gateway's
	// framing, so its clients keep working. The default.
	FramingNDJSON Framing = iota
	// FramingSSE writes Server-Sent Events: "id: N" and "data: <message>" per
	// message, comments as keep-alives, "event: error" with the Status JSON on
	// failure and "event: end" after the last message.
	FramingSSE
	// FramingJSONArray writes one JSON array of messages, element by element;
	// on failure the last element is {"error": <google.rpc.Status>}.
	FramingJSONArray
	// FramingRaw writes the bytes of google.api.HttpBody messages one after
	// another, with the first message's content type: file downloads.
	FramingRaw
)

// Media types of the stream framings.
const (
	NDJSONContentType = "application/x-ndjson"
	SSEContentType    = "text/event-stream"
)

// ParseFraming reads a framing name as configuration spells it: "ndjson",
// "sse" or "json_array" (raw framing follows from the message type and is
// never configured).
func ParseFraming(s string) (Framing, error) {
	switch s {
	case "ndjson":
		return FramingNDJSON, nil
	case "sse":
		return FramingSSE, nil
	case "json_array":
		return FramingJSONArray, nil
	}
	return 0, fmt.Errorf("transcode: framing %q is not ndjson, sse or json_array", s)
}

// String returns the framing's configuration name ("raw" for FramingRaw).
func (f Framing) String() string {
	switch f {
	case FramingNDJSON:
		return "ndjson"
	case FramingSSE:
		return "sse"
	case FramingJSONArray:
		return "json_array"
	case FramingRaw:
		return "raw"
	}
	return "Framing(" + strconv.Itoa(int(f)) + ")"
}

// NegotiateFraming picks the framing of a server-streaming response from the
// request's Accept header: google.api.HttpBody responses are always raw;
// otherwise the acceptable type of highest quality among text/event-stream
// (SSE) and application/x-ndjson wins, and anything else (application/json,
// */*, no Accept) gets the route's configured framing. It also returns the
// response Content-Type ("" for raw: the first message carries it).
func (b *Binding) NegotiateFraming(accept string, configured Framing) (Framing, string) {
	if b.RawResponse() {
		return FramingRaw, ""
	}
	best, bestQ := configured, 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var f Framing
		switch mt {
		case SSEContentType:
			f = FramingSSE
		case NDJSONContentType:
			f = FramingNDJSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = f, q
		}
	}
	switch {
	case best == FramingSSE:
		return best, SSEContentType
	case best == FramingNDJSON && bestQ > 0:
		return best, NDJSONContentType
	}
	// grpc-gateway serves its newline-delimited stream as application/json;
	// its clients may check for that.
	return best, JSONContentType
}

// RawResponse reports whether the method answers a google.api.HttpBody
// (the whole response or its response_body field), whose bytes carry their
// own content type rather than JSON; its streams are framed raw.
func (b *Binding) RawResponse() bool {
	md := b.Method.Output()
	if b.response != nil {
		f := b.response[0]
		if f.IsList() || f.IsMap() {
			return false
		}
		md = f.Message()
	}
	return isHTTPBody(md)
}

// StreamEncoder lays out the messages of one server stream in a framing. It
// only builds bytes; the caller writes and flushes them. Not safe for
// concurrent use: one per response.
type StreamEncoder struct {
	b       *Binding
	framing Framing
	n       int64            // messages encoded so far
	scratch []byte           // SSE: a message's JSON before it is split into data lines
	wire    wirejson.Encoder // the fast path's indexes, kept from message to message
}

// NewStreamEncoder returns an encoder of b's response messages in f.
func (b *Binding) NewStreamEncoder(f Framing) *StreamEncoder {
	return &StreamEncoder{b: b, framing: f}
}

// Framing returns the encoder's framing.
func (e *StreamEncoder) Framing() Framing { return e.framing }

// RawContentType is the content type of a raw stream: that of its first
// message (application/octet-stream when it names none).
func (e *StreamEncoder) RawContentType(first proto.Message) string {
	m := first.ProtoReflect()
	if e.b.response != nil {
		m = m.Get(e.b.response[0]).Message()
	}
	ct := m.Get(m.Descriptor().Fields().ByName("content_type")).String()
	if ct == "" {
		ct = "application/octet-stream"
	}
	return ct
}

// AppendMessage appends one message in the encoder's framing.
func (e *StreamEncoder) AppendMessage(dst []byte, msg proto.Message) ([]byte, error) {
	if e.framing == FramingRaw {
		m := msg.ProtoReflect()
		if e.b.response != nil {
			m = m.Get(e.b.response[0]).Message()
		}
		e.n++
		return append(dst, m.Get(m.Descriptor().Fields().ByName("data")).Bytes()...), nil
	}
	js, _, err := e.b.EncodeResponse(msg)
	if err != nil {
		return dst, err
	}
	return e.appendJSON(dst, func(out []byte) ([]byte, error) { return append(out, js...), nil })
}

// appendJSON appends one message in a JSON framing (NDJSON, SSE, JSON
// array); render appends the message's JSON to its argument. On an error
// dst is returned as it was.
func (e *StreamEncoder) appendJSON(dst []byte, render func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(dst)
	var err error
	switch e.framing {
	case FramingSSE:
		// Data lines split the JSON: render it aside first.
		if e.scratch, err = render(e.scratch[:0]); err != nil {
			return dst, err
		}
		dst = append(dst, "id: "...)
		dst = strconv.AppendInt(dst, e.n, 10)
		dst = append(dst, '\n')
		dst = appendSSEData(dst, e.scratch)
	case FramingJSONArray:
		if e.n == 0 {
			dst = append(dst, '[')
		} else {
			dst = append(dst, ',')
		}
		if dst, err = render(dst); err != nil {
			return dst[:start], err
		}
	default:
		if dst, err = render(append(dst, `{"result":`...)); err != nil {
			return dst[:start], err
		}
		dst = append(dst, '}', '\n')
	}
	e.n++
	return dst, nil
}

// AppendResult appends {"result": js}, the envelope of one message in
// NDJSON lines and WebSocket frames.
func appendResult(dst, js []byte) []byte {
	dst = append(dst, `{"result":`...)
	dst = append(dst, js...)
	return append(dst, '}')
}

// EncodeResultFrame renders one message as {"result": <message>}, the
// payload of a WebSocket text frame.
func (b *Binding) EncodeResultFrame(msg proto.Message) ([]byte, error) {
	js, _, err := b.EncodeResponse(msg)
	if err != nil {
		return nil, err
	}
	return appendResult(make([]byte, 0, len(js)+11), js), nil
}

// EncodeErrorFrame renders st as {"error": <google.rpc.Status>}, the last
// NDJSON line or WebSocket frame of a failed stream.
func (b *Binding) EncodeErrorFrame(st *spb.Status) []byte {
	js := b.EncodeError(st)
	out := make([]byte, 0, len(js)+10)
	out = append(out, `{"error":`...)
	out = append(out, js...)
	return append(out, '}')
}

// AppendError appends the stream's failure in the encoder's framing and
// ends the body (for JSON arrays). Raw streams have no place for an error
// and append nothing: the caller must end the response in a way the client
// sees as a failure (trailers, or an aborted transfer).
func (e *StreamEncoder) AppendError(dst []byte, st *spb.Status) []byte {
	switch e.framing {
	case FramingRaw:
		return dst
	case FramingSSE:
		dst = append(dst, "event: error\n"...)
		return appendSSEData(dst, e.b.EncodeError(st))
	case FramingJSONArray:
		if e.n == 0 {
			dst = append(dst, '[')
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, e.b.EncodeErrorFrame(st)...)
		return append(dst, ']')
	}
	dst = append(dst, e.b.EncodeErrorFrame(st)...)
	return append(dst, '\n')
}

// AppendEnd appends what closes a stream that succeeded: "]" for JSON
// arrays, an "end" event for SSE (so an EventSource can close instead of
// reconnecting and replaying the stream), nothing otherwise.
func (e *StreamEncoder) AppendEnd(dst []byte) []byte {
	switch e.framing {
	case FramingSSE:
		dst = append(dst, "event: end\n"...)
		return appendSSEData(dst, []byte(`{"code":0,"message":"","details":[]}`))
	case FramingJSONArray:
		if e.n == 0 {
			dst = append(dst, '[')
		}
		return append(dst, ']')
	}
	return dst
}

// KeepAlive returns what may be written while a stream is idle, so that
// proxies and browsers keep the connection open: an SSE comment. Other
// framings have no room for one and return nil.
func (e *StreamEncoder) KeepAlive() []byte {
	if e.framing == FramingSSE {
		return []byte(": keep-alive\n\n")
	}
	return nil
}

// appendSSEData appends data as "data:" lines ending the event. JSON from
// protojson is one line, but a line break inside would end the field, so
// every line gets its own "data:" as the SSE spec requires.
func appendSSEData(dst, data []byte) []byte {
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		dst = append(dst, "data: "...)
		dst = append(dst, bytes.TrimSuffix(line, []byte{'\r'})...)
		dst = append(dst, '\n')
		if !more {
			break
		}
		data = rest
	}
	return append(dst, '\n')
}

// isHTTPBody reports whether md is google.api.HttpBody.
func isHTTPBody(md protoreflect.MessageDescriptor) bool {
	return md != nil && md.FullName() == httpBodyName
}
