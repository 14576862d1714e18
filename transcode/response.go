package transcode

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// JSONContentType is the Content-Type of every JSON response.
const JSONContentType = "application/json"

// NewResponse returns an empty message of the method's output type for the
// upstream call to fill.
func (b *Binding) NewResponse() proto.Message {
	return dynamicpb.NewMessage(b.Method.Output())
}

// EncodeResponse renders a response message: the whole message, or its
// response_body field, as proto3 JSON; a google.api.HttpBody as its raw bytes
// with its own content type. Safe for concurrent use.
// A message nested deeper than Options.MaxDepth (google.protobuf.Any
// values included) is a *DepthError.
func (b *Binding) EncodeResponse(resp proto.Message) (body []byte, contentType string, err error) {
	m := resp.ProtoReflect()
	if err := b.checkResponseDepth(m); err != nil {
		return nil, "", fmt.Errorf("transcode: encoding %s response: %w", b.Method.FullName(), err)
	}
	if b.response != nil {
		f := b.response[0]
		if f.Message() != nil && !f.IsList() && !f.IsMap() {
			m = m.Get(f).Message()
		} else {
			return b.encodeField(m, f)
		}
	}
	if m.Descriptor().FullName() == httpBodyName {
		fs := m.Descriptor().Fields()
		ct := m.Get(fs.ByName("content_type")).String()
		if ct == "" {
			ct = "application/octet-stream"
		}
		return m.Get(fs.ByName("data")).Bytes(), ct, nil
	}
	if !m.IsValid() {
		// An unset response_body message field renders as its zero value, as
		// the whole-message case would render it: an empty object.
		m = dynamicpb.NewMessage(m.Descriptor())
	}
	body, err = b.marshal.Marshal(m.Interface())
	if err != nil {
		return nil, "", fmt.Errorf("transcode: encoding %s response: %w", b.Method.FullName(), err)
	}
	return body, JSONContentType, nil
}

// encodeField renders a scalar, repeated or map response_body field by
// marshalling a message holding just that field and taking its value, which
// keeps the JSON form exactly protojson's.
func (b *Binding) encodeField(m protoreflect.Message, f protoreflect.FieldDescriptor) ([]byte, string, error) {
	only := dynamicpb.NewMessage(m.Descriptor())
	if m.Has(f) {
		only.Set(f, m.Get(f))
	}
	name := f.JSONName()
	if b.marshal.UseProtoNames {
		name = string(f.Name())
	}
	v, err := b.fieldJSON(only, name, b.marshal)
	if err == nil && v == nil {
		// The field is unpopulated and the options leave it out; its zero
		// value is still the response body. Only the unset field is
		// marshalled here, so emitting unpopulated fields reaches nothing else.
		all := b.marshal
		all.EmitUnpopulated = true
		v, err = b.fieldJSON(only, name, all)
	}
	if err != nil {
		return nil, "", fmt.Errorf("transcode: encoding %s response: %w", b.Method.FullName(), err)
	}
	return v, JSONContentType, nil
}

func (b *Binding) fieldJSON(m proto.Message, name string, opts protojson.MarshalOptions) (json.RawMessage, error) {
	js, err := opts.Marshal(m)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(js, &obj); err != nil {
		return nil, err
	}
	return obj[name], nil
}
