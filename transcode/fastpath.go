package transcode

import (
	"bytes"
	"errors"
	"fmt"
	"math"

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
	in, out       *msgPlan
	body          *fieldPlan // the body field when it is not "*"
	response      *fieldPlan // the response_body field, or nil
	inWhy, outWhy string     // why a side is not covered
}

// errFallback reports input the fast path leaves to protojson at run time.
var errFallback = errors.New("transcode: left to protojson")

// compileFastPath builds the plan for b at route-build time. It never
// fails: what it cannot cover is recorded and served by protojson.
func compileFastPath(b *Binding) *fastPath {
	fp := &fastPath{}
	p := &planner{msgs: map[protoreflect.FullName]*msgPlan{}}
	fp.in, fp.inWhy = b.compileFastRequest(p)
	out, err := p.message(b.Method.Output())
	switch {
	case err != nil:
		fp.outWhy = err.Error()
	case b.response != nil:
		f := out.lookupNum(b.response[0].Number())
		if f == nil || f.msg == nil || f.list || f.isMap {
			fp.outWhy = "response_body names a field that is not a singular message"
		} else {
			fp.out, fp.response = out, f
		}
	default:
		fp.out = out
	}
	return fp
}

func (b *Binding) compileFastRequest(p *planner) (*msgPlan, string) {
	if b.updateMask != nil {
		// The mask is derived from the body's keys after decoding.
		return nil, "PATCH with an update_mask filled from the body"
	}
	for _, fields := range b.pathFields {
		if fields[len(fields)-1].Message() != nil {
			// Set replaces a message; wire bytes would merge into the body's.
			return nil, "a path variable binds a message-typed field"
		}
	}
	in, err := p.message(b.Method.Input())
	if err != nil {
		return nil, err.Error()
	}
	if b.body != nil {
		f := in.lookupNum(b.body[0].Number())
		if f == nil || f.msg == nil || f.list || f.isMap {
			return nil, "the body field is not a singular message"
		}
		b.fastBody = f
	}
	return in, ""
}

// FastPath reports whether the binding transcodes requests and responses
// directly between JSON and wire bytes, and if not, why.
func (b *Binding) FastPath() (request, response bool, why string) {
	if b.fast == nil {
		return false, false, "not compiled"
	}
	why = b.fast.inWhy
	if why == "" {
		why = b.fast.outWhy
	} else if b.fast.outWhy != "" {
		why += "; " + b.fast.outWhy
	}
	return b.fast.in != nil, b.fast.out != nil, why
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
	if b.hasBody {
		if !isJSONContentType(in.ContentType) {
			return nil, &MediaTypeError{ContentType: in.ContentType}
		}
		body := bytes.TrimSpace(in.Body)
		d := jsonToWire{discard: !b.strict, depth: b.maxDepth}
		var err error
		switch {
		case b.fastBody == nil && len(body) > 0:
			buf, err = d.body(buf, b.fast.in, body)
		case b.fastBody != nil && len(body) == 0:
			// DecodeRequest sets the body field even for an empty body.
			buf = protowire.AppendBytes(protowire.AppendTag(buf, b.fastBody.num, protowire.BytesType), nil)
		case b.fastBody != nil:
			buf = protowire.AppendTag(buf, b.fastBody.num, protowire.BytesType)
			at := len(buf)
			buf, err = d.body(append(buf, 0), b.fastBody.msg, body)
			if err == nil {
				buf = patchLen(buf, at)
			}
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
		if buf, err = appendAtPath(buf, fields, func(buf []byte) ([]byte, error) {
			return appendValue(buf, fields[len(fields)-1], v)
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

// appendAtPath frames what last appends inside the messages fields leads
// through: fields a.b.c becomes a{b{c}} on the wire, which merges into any
// a and b already written.
func appendAtPath(buf []byte, fields []protoreflect.FieldDescriptor, last func([]byte) ([]byte, error)) ([]byte, error) {
	if len(fields) == 1 {
		return last(buf)
	}
	buf = protowire.AppendTag(buf, fields[0].Number(), protowire.BytesType)
	at := len(buf)
	buf, err := appendAtPath(append(buf, 0), fields[1:], last)
	if err != nil {
		return nil, err
	}
	return patchLen(buf, at), nil
}

// appendValue appends f = v as one tagged record (a list element, for a
// repeated f).
func appendValue(buf []byte, f protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	k := f.Kind()
	buf = protowire.AppendTag(buf, f.Number(), wireType(k))
	switch k {
	case protoreflect.BoolKind:
		if v.Bool() {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case protoreflect.EnumKind:
		return protowire.AppendVarint(buf, uint64(int64(v.Enum()))), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return appendInt(buf, k, v.Int()), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return appendUint(buf, k, v.Uint()), nil
	case protoreflect.FloatKind:
		return protowire.AppendFixed32(buf, math.Float32bits(float32(v.Float()))), nil
	case protoreflect.DoubleKind:
		return protowire.AppendFixed64(buf, math.Float64bits(v.Float())), nil
	case protoreflect.StringKind:
		return protowire.AppendString(buf, v.String()), nil
	case protoreflect.BytesKind:
		return protowire.AppendBytes(buf, v.Bytes()), nil
	}
	at := len(buf)
	buf, err := proto.MarshalOptions{}.MarshalAppend(append(buf, 0), v.Message().Interface())
	if err != nil {
		return nil, err
	}
	return patchLen(buf, at), nil
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
	return s.appendAt(fields, func(buf []byte) ([]byte, error) { return appendValue(buf, fields[len(fields)-1], v) })
}

func (s *wireSink) appendElem(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if err := s.touch(fields, false); err != nil {
		return err
	}
	return s.appendAt(fields, func(buf []byte) ([]byte, error) { return appendValue(buf, fields[len(fields)-1], v) })
}

func (s *wireSink) setMapEntry(fields []protoreflect.FieldDescriptor, k, v protoreflect.Value) error {
	if err := s.touch(fields, false); err != nil {
		return err
	}
	f := fields[len(fields)-1]
	return s.appendAt(fields, func(buf []byte) ([]byte, error) {
		buf = protowire.AppendTag(buf, f.Number(), protowire.BytesType)
		at := len(buf)
		buf, err := appendValue(append(buf, 0), f.MapKey(), k)
		if err != nil {
			return nil, err
		}
		if buf, err = appendValue(buf, f.MapValue(), v); err != nil {
			return nil, err
		}
		return patchLen(buf, at), nil
	})
}

func (s *wireSink) appendAt(fields []protoreflect.FieldDescriptor, last func([]byte) ([]byte, error)) error {
	buf, err := appendAtPath(s.buf, fields, last)
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
func (b *Binding) NewCallResponse(codec *Codec) any {
	if codec == nil || b.fast == nil || b.fast.out == nil {
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
	e := codec.encoders.Get().(*wireToJSON)
	defer codec.encoders.Put(e)
	// JSON runs about twice the size of the wire form: one allocation for
	// most responses instead of a series of doublings.
	out, err := b.encodeWire(e, m.data, make([]byte, 0, 2*len(m.data)+64))
	if err == errNeedsMerge {
		codec.stats.responseFallbacks.Add(1)
		msg := b.NewResponse()
		if err := proto.Unmarshal(m.data, msg); err != nil {
			return nil, "", err
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
func (b *Binding) encodeWire(e *wireToJSON, data, out []byte) ([]byte, error) {
	e.useProtoNames, e.emitUnpop = b.marshal.UseProtoNames, b.marshal.EmitUnpopulated
	e.heads, e.spans = e.heads[:0], e.spans[:0]
	mp := b.fast.out
	if f := b.fast.response; f != nil {
		// The call would have failed on malformed bytes anywhere in the
		// response, not only in the field rendered: decode it all, as
		// protobuf would have (response_body routes are rare).
		if err := checkWire(b.Method.Output(), data); err != nil {
			return nil, err
		}
		sub, found, err := lastMessageField(data, f.num)
		if err != nil {
			return nil, err
		}
		if !found {
			sub = nil // unset: rendered as an empty message, as EncodeResponse does
		}
		data, mp = sub, f.msg
	}
	out, err := e.message(out, mp, data)
	if err != nil && err != errNeedsMerge {
		return nil, errors.Join(errors.New("transcode: encoding "+string(b.Method.FullName())+" response"), err)
	}
	return out, err
}

// lastMessageField finds a message field's bytes; more than one occurrence
// would merge and is left to protojson.
func lastMessageField(b []byte, num protowire.Number) ([]byte, bool, error) {
	var found []byte
	seen := false
	for len(b) > 0 {
		n, typ, l := consumeTag(b)
		if l < 0 {
			return nil, false, protowire.ParseError(l)
		}
		m := protowire.ConsumeFieldValue(n, typ, b[l:])
		if m < 0 {
			return nil, false, protowire.ParseError(m)
		}
		if n == num && typ == protowire.BytesType {
			if seen {
				return nil, false, errNeedsMerge
			}
			found, _ = protowire.ConsumeBytes(b[l:])
			seen = true
		}
		b = b[l+m:]
	}
	return found, seen, nil
}

// checkWire reports whether protobuf accepts data as a message of type md.
// protobuf-go panics on some malformed map entries in dynamic messages; that
// is an error here too.
func checkWire(md protoreflect.MessageDescriptor, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transcode: malformed response: %v", r)
		}
	}()
	return proto.Unmarshal(data, dynamicpb.NewMessage(md))
}
