package wirejson

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AppendFramed appends a length-delimited record of field num whose
// contents inner appends: a message field, without knowing its size
// first. An error from inner is returned as it is.
func AppendFramed(buf []byte, num protowire.Number, inner func([]byte) ([]byte, error)) ([]byte, error) {
	buf = protowire.AppendTag(buf, num, protowire.BytesType)
	at := len(buf)
	buf, err := inner(append(buf, 0))
	if err != nil {
		return nil, err
	}
	return patchLen(buf, at), nil
}

// AppendAtPath frames what last appends inside the messages fields leads
// through: fields a.b.c becomes a{b{c}} on the wire, which merges into any
// a and b already written. fields[len(fields)-1] is last's to write.
func AppendAtPath(buf []byte, fields []protoreflect.FieldDescriptor, last func([]byte) ([]byte, error)) ([]byte, error) {
	if len(fields) == 1 {
		return last(buf)
	}
	return AppendFramed(buf, fields[0].Number(), func(buf []byte) ([]byte, error) {
		return AppendAtPath(buf, fields[1:], last)
	})
}

// AppendValue appends f = v as one tagged record (a list element, for a
// repeated f). A message value is marshalled by protobuf, whose error (a
// string that is not UTF-8) is returned.
func AppendValue(buf []byte, f protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
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

// MessageField finds the bytes of message field num in the wire bytes b
// of a message; found is false when the field is absent. More than one
// occurrence would merge and is ErrNeedsMerge; malformed bytes are a
// protowire parse error.
func MessageField(b []byte, num protowire.Number) (field []byte, found bool, err error) {
	var out []byte
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
				return nil, false, ErrNeedsMerge
			}
			out, _ = protowire.ConsumeBytes(b[l:])
			seen = true
		}
		b = b[l+m:]
	}
	return out, seen, nil
}
