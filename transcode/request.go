package transcode

import (
	"bytes"
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strings"

	"github.com/refract-gateway/refract/transcode/fieldmask"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Request is the HTTP side of one unary call, as the gateway read it.
type Request struct {
	// Vars are the path variables, aligned with the template's variables
	// (router.Match.Vars).
	Vars []string
	// RawQuery is the URL's query string, still encoded.
	RawQuery string
	// Body is the whole request body.
	Body []byte
	// ContentType is the request's Content-Type header.
	ContentType string
}

// DecodeRequest builds the request message for one call: the body first
// (it replaces the message or the body field), then path variables, then
// query parameters for the fields neither binds. Errors are gRPC statuses:
// INVALID_ARGUMENT naming the variable, parameter, field or JSON position at
// fault. Safe for concurrent use.
func (b *Binding) DecodeRequest(in Request) (proto.Message, error) {
	if err := b.checkUnbound(in); err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(b.Method.Input())
	if b.hasBody {
		if err := b.decodeBody(msg, in); err != nil {
			return nil, err
		}
	}
	for i, fields := range b.pathFields {
		if i >= len(in.Vars) {
			break
		}
		if err := setPath(msg, fields, in.Vars[i]); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "path variable %s: %q: %v", protoPath(fields), in.Vars[i], err)
		}
	}
	if in.RawQuery != "" {
		if err := b.decodeQuery(messageSink{msg}, in.RawQuery); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

// MediaTypeError reports a body whose Content-Type is not JSON where JSON is
// expected; the gateway answers 415. Form and text/plain bodies are refused
// rather than sniffed because browsers send them cross-origin without a
// CORS preflight.
type MediaTypeError struct {
	ContentType string
	// NoBody: the route's rule takes no body, and a form body would lose
	// its fields silently.
	NoBody bool
}

func (e *MediaTypeError) Error() string {
	if e.NoBody {
		return fmt.Sprintf("request body: this route's rule has no body, so a %q body would be ignored; send the fields in the path and query string", e.ContentType)
	}
	return fmt.Sprintf("request body: Content-Type %q is not JSON; send application/json", e.ContentType)
}

// checkUnbound refuses a form body on a route without a body rather than
// dropping its fields (a JSON body there is ignored, as in grpc-gateway).
func (b *Binding) checkUnbound(in Request) error {
	if b.hasBody || len(in.Body) == 0 {
		return nil // parsing the media type costs an allocation: only when it matters
	}
	if mt, _, _ := mime.ParseMediaType(in.ContentType); mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
		return &MediaTypeError{ContentType: in.ContentType, NoBody: true}
	}
	return nil
}

// GRPCStatus makes the error an INVALID_ARGUMENT status.
func (e *MediaTypeError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Error())
}

// isJSONContentType accepts what a JSON client may send: no type at all,
// application/json, and any application/*+json.
func isJSONContentType(ct string) bool {
	if ct == "" || ct == "application/json" { // the usual one, without parsing
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

func (b *Binding) decodeBody(msg *dynamicpb.Message, in Request) error {
	target := protoreflect.Message(msg)
	var field protoreflect.FieldDescriptor
	if !b.bodyStar {
		for _, f := range b.body[:len(b.body)-1] { // a nested body field: its parents
			target = target.Mutable(f).Message()
		}
		field = b.body[len(b.body)-1]
		if field.Message() != nil && !field.IsList() && !field.IsMap() {
			target = target.Mutable(field).Message()
			field = nil
		}
	}
	if field == nil && target.Descriptor().FullName() == httpBodyName {
		// google.api.HttpBody takes the bytes as they are, with their type.
		fs := target.Descriptor().Fields()
		target.Set(fs.ByName("content_type"), protoreflect.ValueOfString(in.ContentType))
		target.Set(fs.ByName("data"), protoreflect.ValueOfBytes(in.Body))
		return nil
	}
	if !isJSONContentType(in.ContentType) {
		return &MediaTypeError{ContentType: in.ContentType}
	}
	body := bytes.TrimSpace(in.Body)
	if len(body) == 0 {
		// An empty body is an empty message (or an unset body field), as in grpc-gateway.
		return nil
	}
	shift := 0
	if field != nil {
		// A scalar, repeated or map body field: protojson parses it as the
		// value of that field inside its parent message. The body must be
		// exactly one JSON value first, or a body such as `1,"title":"x"`
		// would set other fields of the message through the wrapper.
		if err := wirejson.CheckValue(body, b.maxDepth); err != nil {
			return status.Errorf(codes.InvalidArgument, "request body (the value of field %s): %s", field.Name(), depthMessage(err.Error(), b.maxDepth))
		}
		wrapped := make([]byte, 0, len(body)+len(field.JSONName())+8)
		wrapped = rpcstatus.AppendJSONString(append(wrapped, '{'), field.JSONName())
		shift = len(wrapped) + 1
		wrapped = append(append(append(wrapped, ':'), body...), '}')
		body = wrapped
	}
	if err := b.unmarshalGuarded(body, target.Interface()); err != nil {
		return status.Errorf(codes.InvalidArgument, "request body: %s", depthMessage(shiftColumns(wirejson.ProtoErrorText(err), shift), b.maxDepth))
	}
	if b.updateMask != nil && !msg.Has(b.updateMask) {
		b.fillUpdateMask(msg, in.Body)
	}
	return nil
}

// setPath sets the field at the end of fields, creating the messages on the
// way, from the text value s. A repeated field takes s as comma-separated
// elements and replaces what the body set (grpc-gateway's convention).
func setPath(msg protoreflect.Message, fields []protoreflect.FieldDescriptor, s string) error {
	for _, f := range fields[:len(fields)-1] {
		msg = msg.Mutable(f).Message()
	}
	last := fields[len(fields)-1]
	if last.IsList() {
		list := msg.NewField(last).List()
		for _, e := range strings.Split(s, ",") {
			v, err := parseScalar(last, e)
			if err != nil {
				return fmt.Errorf("element %q: %w", e, err)
			}
			list.Append(v)
		}
		msg.Set(last, protoreflect.ValueOfList(list))
		return nil
	}
	v, err := parseScalar(last, s)
	if err != nil {
		return err
	}
	msg.Set(last, v)
	return nil
}

// decodeQuery applies query parameters: keys are dotted field paths (proto or
// JSON names), repeated fields take repeated keys, map entries take
// key[mapkey]=value. Parameters naming fields bound by the path or body are
// ignored, as are unknown ones, unless the binding is strict.
func (b *Binding) decodeQuery(sink querySink, raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "query string: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors and set order
	for _, key := range keys {
		if err := b.applyQuery(sink, key, q[key]); err != nil {
			return err
		}
	}
	return nil
}

func (b *Binding) applyQuery(sink querySink, key string, vals []string) error {
	if b.bodyStar {
		if b.strict {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: this route takes every field from the body; query parameters are not accepted", key)
		}
		return nil
	}
	path, mapKey, hasMapKey := strings.Cut(key, "[")
	if hasMapKey {
		if !strings.HasSuffix(mapKey, "]") {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: expected name[key]", key)
		}
		mapKey = mapKey[:len(mapKey)-1]
	}
	fields, err := fieldPath(b.Method.Input(), path)
	if err != nil {
		if b.strict {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: unknown field: %v", key, err)
		}
		return nil
	}
	if bound := b.boundBy(fields); bound != nil {
		if b.strict {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: field %s is bound by the path or body", key, protoPath(bound))
		}
		return nil
	}
	badf := func(v string, err error) error {
		return status.Errorf(codes.InvalidArgument, "query parameter %q: invalid value %q for field %s: %v", key, v, fields[len(fields)-1].FullName(), err)
	}
	f := fields[len(fields)-1]
	switch {
	case f.IsMap():
		if !hasMapKey {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: field %s is a map; use %s[key]=value", key, f.FullName(), path)
		}
		k, err := parseScalar(f.MapKey(), mapKey)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: invalid map key %q: %v", key, mapKey, err)
		}
		v, err := parseScalar(f.MapValue(), vals[len(vals)-1])
		if err != nil {
			return badf(vals[len(vals)-1], err)
		}
		if err := sink.setMapEntry(fields, k, v); err != nil {
			return err
		}
	case hasMapKey:
		return status.Errorf(codes.InvalidArgument, "query parameter %q: field %s is not a map", key, f.FullName())
	case f.IsList():
		for _, s := range vals {
			v, err := parseScalar(f, s)
			if err != nil {
				return badf(s, err)
			}
			if err := sink.appendElem(fields, v); err != nil {
				return err
			}
		}
	default:
		if len(vals) > 1 {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: field %s is not repeated but was given %d times", key, f.FullName(), len(vals))
		}
		v, err := parseScalar(f, vals[0])
		if err != nil {
			return badf(vals[0], err)
		}
		if err := sink.set(fields, v); err != nil {
			return err
		}
	}
	return nil
}

// querySink receives the values query parameters set, addressed by field
// path, so the same parsing and errors serve the dynamic message and the
// fast path's wire bytes.
type querySink interface {
	set(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error
	appendElem(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error
	setMapEntry(fields []protoreflect.FieldDescriptor, k, v protoreflect.Value) error
}

// messageSink sets query values on a dynamic message.
type messageSink struct{ msg protoreflect.Message }

func (s messageSink) parent(fields []protoreflect.FieldDescriptor) protoreflect.Message {
	m := s.msg
	for _, f := range fields[:len(fields)-1] {
		m = m.Mutable(f).Message()
	}
	return m
}

func (s messageSink) set(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error {
	s.parent(fields).Set(fields[len(fields)-1], v)
	return nil
}

func (s messageSink) appendElem(fields []protoreflect.FieldDescriptor, v protoreflect.Value) error {
	s.parent(fields).Mutable(fields[len(fields)-1]).List().Append(v)
	return nil
}

func (s messageSink) setMapEntry(fields []protoreflect.FieldDescriptor, k, v protoreflect.Value) error {
	s.parent(fields).Mutable(fields[len(fields)-1]).Map().Set(k.MapKey(), v)
	return nil
}

// fillUpdateMask sets update_mask from the JSON keys present in the body
// field, so a PATCH that sends only some fields updates only those (the
// partial-update convention of grpc-gateway and Google's API design guide).
func (b *Binding) fillUpdateMask(msg *dynamicpb.Message, body []byte) {
	mask := msg.Mutable(b.updateMask).Message()
	list := mask.Mutable(mask.Descriptor().Fields().ByName("paths")).List()
	for _, p := range fieldmask.FromJSON(b.body[0].Message(), body) {
		list.Append(protoreflect.ValueOfString(p))
	}
}
