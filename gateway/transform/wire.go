package transform

import (
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// errMalformed is wire bytes that do not parse as fields.
var errMalformed = errors.New("malformed protobuf wire bytes")

// dropTree is the fields a wire edit drops (drop) or descends into (sub),
// by field number; built once per route from the paths config names.
type dropTree map[protowire.Number]*dropNode

type dropNode struct {
	drop bool
	sub  dropTree
}

// add puts a field path into t: its last field is dropped, the others
// descended into.
func (t dropTree) add(path []protoreflect.FieldDescriptor) {
	for i, fd := range path {
		n := t[fd.Number()]
		if n == nil {
			n = &dropNode{}
			t[fd.Number()] = n
		}
		if i == len(path)-1 {
			n.drop, n.sub = true, nil
			return
		}
		if n.drop {
			return // the whole field goes already
		}
		if n.sub == nil {
			n.sub = dropTree{}
		}
		t = n.sub
	}
}

// drop returns data without the fields t drops, rewriting the embedded
// messages it descends into (every occurrence: repeated ones and a
// singular one sent in pieces alike). When nothing is dropped it returns
// data itself, unchanged and not copied.
func drop(data []byte, t dropTree) ([]byte, bool, error) {
	var out []byte
	edited := false
	pos, kept := 0, 0 // data[kept:pos] is still to be copied
	for pos < len(data) {
		num, typ, n := protowire.ConsumeTag(data[pos:])
		if n < 0 {
			return nil, false, errMalformed
		}
		m := protowire.ConsumeFieldValue(num, typ, data[pos+n:])
		if m < 0 {
			return nil, false, errMalformed
		}
		end := pos + n + m
		node := t[num]
		if node == nil || (!node.drop && typ != protowire.BytesType) {
			pos = end
			continue
		}
		var sub []byte
		if !node.drop {
			v, _ := protowire.ConsumeBytes(data[pos+n : end])
			var subEdited bool
			var err error
			if sub, subEdited, err = drop(v, node.sub); err != nil {
				return nil, false, err
			}
			if !subEdited {
				pos = end
				continue
			}
		}
		if !edited {
			out, edited = make([]byte, 0, len(data)), true
		}
		out = append(out, data[kept:pos]...)
		if !node.drop {
			out = protowire.AppendTag(out, num, protowire.BytesType)
			out = protowire.AppendBytes(out, sub)
		}
		pos, kept = end, end
	}
	if !edited {
		return data, false, nil
	}
	return append(out, data[kept:]...), true, nil
}

// lookup finds the value of a singular scalar field path in data as
// protobuf decodes it: the last occurrence wins and embedded messages
// merge. It returns the encoded value (after the tag) and its wire type.
func lookup(data []byte, path []protoreflect.FieldDescriptor) (val []byte, typ protowire.Type, found bool, err error) {
	want := path[0].Number()
	for len(data) > 0 {
		num, t, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil, 0, false, errMalformed
		}
		m := protowire.ConsumeFieldValue(num, t, data[n:])
		if m < 0 {
			return nil, 0, false, errMalformed
		}
		if num == want {
			if len(path) == 1 {
				val, typ, found = data[n:n+m], t, true
			} else if t == protowire.BytesType {
				sub, _ := protowire.ConsumeBytes(data[n : n+m])
				v, st, ok, err := lookup(sub, path[1:])
				if err != nil {
					return nil, 0, false, err
				}
				if ok {
					val, typ, found = v, st, true
				}
			}
		}
		data = data[n+m:]
	}
	return val, typ, found, nil
}

// appendPath appends field path's last field with the encoded value val
// of wire type typ, nested in its parents: parsed, it sets that field,
// merging into the parents the message already holds.
func appendPath(out []byte, path []protoreflect.FieldDescriptor, typ protowire.Type, val []byte) []byte {
	if len(path) == 1 {
		out = protowire.AppendTag(out, path[0].Number(), typ)
		return append(out, val...)
	}
	inner := appendPath(nil, path[1:], typ, val)
	out = protowire.AppendTag(out, path[0].Number(), protowire.BytesType)
	return protowire.AppendBytes(out, inner)
}

// encodeScalar is the wire type and encoded value (after the tag) of v
// as field fd, a singular scalar.
func encodeScalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) (protowire.Type, []byte) {
	var b []byte
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protowire.VarintType, protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
	case protoreflect.EnumKind:
		return protowire.VarintType, protowire.AppendVarint(b, uint64(int64(v.Enum())))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return protowire.VarintType, protowire.AppendVarint(b, uint64(v.Int()))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.VarintType, protowire.AppendVarint(b, protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return protowire.VarintType, protowire.AppendVarint(b, v.Uint())
	case protoreflect.Fixed32Kind:
		return protowire.Fixed32Type, protowire.AppendFixed32(b, uint32(v.Uint()))
	case protoreflect.Sfixed32Kind:
		return protowire.Fixed32Type, protowire.AppendFixed32(b, uint32(int32(v.Int())))
	case protoreflect.FloatKind:
		return protowire.Fixed32Type, protowire.AppendFixed32(b, math.Float32bits(float32(v.Float())))
	case protoreflect.Fixed64Kind:
		return protowire.Fixed64Type, protowire.AppendFixed64(b, v.Uint())
	case protoreflect.Sfixed64Kind:
		return protowire.Fixed64Type, protowire.AppendFixed64(b, uint64(v.Int()))
	case protoreflect.DoubleKind:
		return protowire.Fixed64Type, protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	case protoreflect.StringKind:
		return protowire.BytesType, protowire.AppendString(b, v.String())
	default: // BytesKind: compile admits scalars only
		return protowire.BytesType, protowire.AppendBytes(b, v.Bytes())
	}
}
