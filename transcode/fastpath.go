package transcode

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"

	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// fastPath is a binding's compiled plan for direct JSON↔wire transcoding.
// Either side may be missing (nil plan): that side then goes through
// dynamicpb and protojson, and the reason is kept for the admin API.
type fastPath struct {
	in, out       *wirejson.Message
	response      *wirejson.Field // the response_body field, or nil
	inWhy, outWhy string          // why a side is not covered
}

// errFallback reports input the fast path leaves to protojson at run time.
var errFallback = errors.New("transcode: left to protojson")

// compileFastPath builds the plan for b at route-build time. It never
// fails: what it cannot cover is recorded and served by protojson.
func compileFastPath(b *Binding) *fastPath {
	fp := &fastPath{}
	p := wirejson.NewCompiler()
	fp.in, fp.inWhy = b.compileFastRequest(p)
	out, err := p.Message(b.Method.Output())
	switch {
	case err != nil:
		fp.outWhy = err.Error()
	case b.response != nil:
		f := out.FieldByNumber(b.response[0].Number())
		if f == nil || !f.IsSingularMessage() {
			fp.outWhy = "response_body names a field that is not a singular message"
		} else {
			fp.out, fp.response = out, f
		}
	default:
		fp.out = out
	}
	return fp
}

func (b *Binding) compileFastRequest(p *wirejson.Compiler) (*wirejson.Message, string) {
	if b.updateMask != nil {
		// The mask is derived from the body's keys after decoding.
		return nil, "PATCH with an update_mask filled from the body"
	}
	for _, fields := range b.pathFields {
		if f := fields[len(fields)-1]; f.Message() != nil || f.IsList() {
			// Set replaces a message or a list; wire bytes would merge into the body's.
			return nil, "a path variable binds a message-typed or repeated field"
		}
	}
	if len(b.body) > 1 {
		return nil, "the body names a nested field"
	}
	in, err := p.Message(b.Method.Input())
	if err != nil {
		return nil, err.Error()
	}
	if b.body != nil {
		f := in.FieldByNumber(b.body[0].Number())
		if f == nil || !f.IsSingularMessage() {
			return nil, "the body field is not a singular message"
		}
		b.fastBody = f
	}
	return in, ""
}

// FastPath reports whether the binding's calls transcode requests and
// responses directly between JSON and wire bytes, and if not, why. Client
// and bidi streams never do; a server stream's one request is a dynamic
// message, its messages are rendered from wire bytes when they can be.
func (b *Binding) FastPath() (request, response bool, why string) {
	switch {
	case b.ClientStreaming:
		return false, false, "client and bidi streams use dynamic messages"
	case b.fast == nil:
		return false, false, "not compiled"
	}
	why = b.fast.inWhy
	if why == "" {
		why = b.fast.outWhy
	} else if b.fast.outWhy != "" {
		why += "; " + b.fast.outWhy
	}
	if b.ServerStreaming {
		return false, b.fast.out != nil, cmp.Or(why, "a server stream's request is a dynamic message")
	}
	return b.fast.in != nil, b.fast.out != nil, why
}

// FastPathInfo is a route's transcoding path, as the admin API shows it.
type FastPathInfo struct {
	Request  bool   `json:"request"`
	Response bool   `json:"response"`
	Fallback string `json:"fallback,omitempty"`
}

// Info is FastPath for the admin API, with streams' reasons spelled out.
func (b *Binding) Info() FastPathInfo {
	req, resp, why := b.FastPath()
	return FastPathInfo{Request: req, Response: resp, Fallback: why}
}

// DecodeCall builds the request of one call for codec: wire bytes in a
// *WireMessage when the fast path covers the binding, else the dynamic
// message DecodeRequest builds (counted as a fallback). The result is what
// the upstream call sends. Errors are DecodeRequest's. Safe for concurrent
// use.
func (b *Binding) DecodeCall(in Request, codec *Codec) (any, error) {
	if codec == nil || b.fast == nil || b.fast.in == nil {
		if codec != nil {
			codec.stats.requestFallbacks.Add(1)
		}
		return b.DecodeRequest(in)
	}
	m := codec.newRequest(len(in.Body) + len(in.RawQuery) + 64)
	data, err := b.decodeWire(in, m.data)
	if err == errFallback {
		codec.stats.requestFallbacks.Add(1)
		m.Release()
		return b.DecodeRequest(in)
	}
	if err != nil {
		m.Release()
		return nil, err
	}
	m.data = data
	codec.stats.requests.Add(1)
	return m, nil
}

// decodeWire is DecodeRequest writing wire bytes: the body, then path
// variables, then query parameters, appended in that order so that on
// decoding the later ones win exactly where DecodeRequest's later Set wins.
func (b *Binding) decodeWire(in Request, buf []byte) ([]byte, error) {
	if err := b.checkUnbound(in); err != nil {
		return nil, err
	}
	if b.hasBody {
		if !isJSONContentType(in.ContentType) {
			return nil, &MediaTypeError{ContentType: in.ContentType}
		}
		body := bytes.TrimSpace(in.Body)
		opts := wirejson.DecodeOptions{DiscardUnknown: !b.strict, MaxDepth: b.maxDepth}
		var err error
		switch {
		case b.fastBody == nil && len(body) > 0:
			buf, err = b.fast.in.AppendWire(buf, body, opts)
		case b.fastBody != nil && len(body) == 0:
			// DecodeRequest sets the body field even for an empty body.
			buf = protowire.AppendBytes(protowire.AppendTag(buf, b.fastBody.Number(), protowire.BytesType), nil)
		case b.fastBody != nil:
			buf, err = wirejson.AppendFramed(buf, b.fastBody.Number(), func(buf []byte) ([]byte, error) {
				return b.fastBody.Message().AppendWire(buf, body, opts)
			})
		}
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "request body: %s", depthMessage(err.Error(), b.maxDepth))
		}
	}
	for i, fields := range b.pathFields {
		if i >= len(in.Vars) {
			break
		}
		v, err := parseScalar(fields[len(fields)-1], in.Vars[i])
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "path variable %s: %q: %v", protoPath(fields), in.Vars[i], err)
		}
		if buf, err = wirejson.AppendAtPath(buf, fields, func(buf []byte) ([]byte, error) {
			return wirejson.AppendValue(buf, fields[len(fields)-1], v)
		}); err != nil {
			return nil, err
		}
	}
	if in.RawQuery != "" {
		sink := &wireSink{buf: buf}
		if err := b.decodeQuery(sink, in.RawQuery); err != nil {
			return nil, err
		}
		buf = sink.buf
	}
	return buf, nil
}

// wireSink appends query values as wire records. A whole message set by a
// parameter replaces the field in DecodeRequest but would merge on the
// wire; when another parameter touched the same field first, the request
// is left to protojson.
type wireSink struct {
	buf     []byte
	touched [][]protoreflect.FieldDescriptor
}

func (s *wireSink) touch(fields []protoreflect.FieldDescriptor, replaces bool) error {
	if replaces {
		for _, t := range s.touched {
			if hasPrefix(t, fields) {
				return errFallback
			}
		}
	}
	s.touched = append(s.touched, fields)
	return nil
}

func (s *wireSink) set(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if err := s.touch(fields, fields[len(fields)-1].Message() != nil); err != nil {
		return err
	}
	return s.appendAt(fields, func(buf []byte) ([]byte, error) { return wirejson.AppendValue(buf, fields[len(fields)-1], v) })
}

func (s *wireSink) appendElem(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if err := s.touch(fields, false); err != nil {
		return err
	}
	return s.appendAt(fields, func(buf []byte) ([]byte, error) { return wirejson.AppendValue(buf, fields[len(fields)-1], v) })
}

func (s *wireSink) setMapEntry(fields []protoreflect.FieldDescriptor, k, v protoreflect.Value) error {
	if err := s.touch(fields, false); err != nil {
		return err
	}
	f := fields[len(fields)-1]
	return s.appendAt(fields, func(buf []byte) ([]byte, error) {
		return wirejson.AppendFramed(buf, f.Number(), func(buf []byte) ([]byte, error) {
			buf, err := wirejson.AppendValue(buf, f.MapKey(), k)
			if err != nil {
				return nil, err
			}
			return wirejson.AppendValue(buf, f.MapValue(), v)
		})
	})
}

func (s *wireSink) appendAt(fields []protoreflect.FieldDescriptor, last func([]byte) ([]byte, error)) error {
	buf, err := wirejson.AppendAtPath(s.buf, fields, last)
	if err != nil {
		// Only a well-known-type value protobuf cannot marshal gets here
		// (a string inside it that is not UTF-8).
		return status.Errorf(codes.InvalidArgument, "query parameter for field %s: %v", protoPath(fields), err)
	}
	s.buf = buf
	return nil
}

// NewCallResponse returns what the upstream call fills: a *WireMessage
// when the fast path renders the response, else NewResponse's message.
//
// With a codec, a response the fast path does not render is received as
// wire bytes too, so that EncodeCallResponse unmarshals it within the
// depth budget (grpc-go's own codec allows protobuf's 10,000 levels).
func (b *Binding) NewCallResponse(codec *Codec) any {
	if codec == nil {
		return b.NewResponse()
	}
	return &WireMessage{}
}

// EncodeCallResponse renders what NewCallResponse returned after the call
// filled it, exactly as EncodeResponse renders the message, and releases
// a WireMessage's buffer. Safe for concurrent use.
func (b *Binding) EncodeCallResponse(resp any, codec *Codec) (body []byte, contentType string, err error) {
	m, ok := resp.(*WireMessage)
	if !ok {
		if codec != nil {
			codec.stats.responseFallbacks.Add(1)
		}
		return b.EncodeResponse(resp.(proto.Message))
	}
	defer m.Release()
	if b.fast == nil || b.fast.out == nil {
		codec.stats.responseFallbacks.Add(1)
		msg := b.NewResponse()
		if err := b.unmarshalResponse(m.data, msg); err != nil {
			return nil, "", fmt.Errorf("transcode: encoding %s response: %w", b.Method.FullName(), err)
		}
		return b.EncodeResponse(msg)
	}
	e := codec.encoders.Get().(*wirejson.Encoder)
	defer codec.encoders.Put(e)
	// JSON runs about twice the size of the wire form: one allocation for
	// most responses instead of a series of doublings.
	out, err := b.encodeWire(e, m.data, make([]byte, 0, 2*len(m.data)+64))
	if err == wirejson.ErrNeedsMerge {
		codec.stats.responseFallbacks.Add(1)
		msg := b.NewResponse()
		if err := b.unmarshalResponse(m.data, msg); err != nil {
			return nil, "", fmt.Errorf("transcode: encoding %s response: %w", b.Method.FullName(), err)
		}
		return b.EncodeResponse(msg)
	}
	if err != nil {
		return nil, "", err
	}
	codec.stats.responses.Add(1)
	return out, JSONContentType, nil
}

// encodeWire renders response wire bytes, the whole message or the
// response_body message field, appending to out. e is scratch space,
// reused across calls so that its indexes stop growing.
func (b *Binding) encodeWire(e *wirejson.Encoder, data, out []byte) ([]byte, error) {
	mp := b.fast.out
	if f := b.fast.response; f != nil {
		// The call would have failed on malformed bytes anywhere in the
		// response, not only in the field rendered: decode it all, as
		// protobuf would have (response_body routes are rare).
		if err := b.checkWire(data); err != nil {
			return nil, errors.Join(errors.New("transcode: encoding "+string(b.Method.FullName())+" response"), err)
		}
		sub, found, err := wirejson.MessageField(data, f.Number())
		if err != nil {
			return nil, err
		}
		if !found {
			sub = nil // unset: rendered as an empty message, as EncodeResponse does
		}
		data, mp = sub, f.Message()
	}
	out, err := e.AppendJSON(out, mp, data, wirejson.EncodeOptions{
		UseProtoNames: b.marshal.UseProtoNames, EmitUnpopulated: b.marshal.EmitUnpopulated, MaxDepth: b.maxDepth,
	})
	if err != nil && err != wirejson.ErrNeedsMerge {
		return nil, errors.Join(errors.New("transcode: encoding "+string(b.Method.FullName())+" response"), b.responseDepth(err))
	}
	return out, err
}

// checkWire reports whether protobuf accepts data as a message of type md.
// protobuf-go panics on some malformed map entries in dynamic messages; that
// is an error here too.
func (b *Binding) checkWire(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transcode: malformed response: %v", r)
		}
	}()
	return b.unmarshalResponse(data, dynamicpb.NewMessage(b.Method.Output()))
}
