package aggregate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The request values: text assembled from literals and references and
// parsed as the field's type, a call's response field copied as it is, or
// a JSON value of the body.

// leafParent is the message holding the last field of fds, created along
// the way.
func leafParent(m protoreflect.Message, fds []protoreflect.FieldDescriptor) protoreflect.Message {
	for _, fd := range fds[:len(fds)-1] {
		m = m.Mutable(fd).Message()
	}
	return m
}

// fieldValue reads the field fds names from m (defaults along unset
// messages).
func fieldValue(m protoreflect.Message, fds []protoreflect.FieldDescriptor) protoreflect.Value {
	for _, fd := range fds[:len(fds)-1] {
		m = m.Get(fd).Message()
	}
	return m.Get(fds[len(fds)-1])
}

// setText parses text as fd's scalar type and sets it in m.
func setText(m protoreflect.Message, fd protoreflect.FieldDescriptor, text string) error {
	v, err := scalar(fd, text)
	if err != nil {
		return err
	}
	m.Set(fd, v)
	return nil
}

// scalar parses text as fd's scalar type.
func scalar(fd protoreflect.FieldDescriptor, text string) (protoreflect.Value, error) {
	bad := func(what string) (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("%q is not %s", text, what)
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(text), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(text)), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return bad("true or false")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return bad("a 32-bit integer")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return bad("a 64-bit integer")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(text, 10, 32)
		if err != nil {
			return bad("an unsigned 32-bit integer")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return bad("an unsigned 64-bit integer")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(text, 32)
		if err != nil {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(text)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return bad("a value of " + string(fd.Enum().FullName()))
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	return bad("a scalar") // compile refuses message, list and map fields for text
}

// text is a scalar field value as text (enums by name, bytes base64).
func text(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return v.String()
}

// copyField sets dst's field (the last of dfds, in m) to src's value
// (srcFD's, read from a response): assignable checked the types.
func copyField(m protoreflect.Message, dst protoreflect.FieldDescriptor, srcFD protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch {
	case dst.IsList():
		from, to := v.List(), m.Mutable(dst).List()
		for i := 0; i < from.Len(); i++ {
			e := from.Get(i)
			if dst.Message() != nil {
				ne := to.NewElement()
				if err := copyMessage(e.Message(), ne.Message()); err != nil {
					return err
				}
				e = ne
			}
			to.Append(e)
		}
	case dst.IsMap():
		from, to := v.Map(), m.Mutable(dst).Map()
		var err error
		from.Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
			if dst.MapValue().Message() != nil {
				ne := to.NewValue()
				if err = copyMessage(e.Message(), ne.Message()); err != nil {
					return false
				}
				e = ne
			}
			to.Set(k, e)
			return true
		})
		return err
	case dst.Message() != nil:
		nm := m.NewField(dst)
		if err := copyMessage(v.Message(), nm.Message()); err != nil {
			return err
		}
		m.Set(dst, nm)
	case dst.Kind() == protoreflect.StringKind && srcFD.Kind() != protoreflect.StringKind:
		m.Set(dst, protoreflect.ValueOfString(text(srcFD, v)))
	default:
		m.Set(dst, v)
	}
	return nil
}

// copyMessage copies through the wire: the two may be of different
// descriptor sets (two upstreams) with the same type.
func copyMessage(from, to protoreflect.Message) error {
	b, err := proto.Marshal(from.Interface())
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, to.Interface())
}

// setJSON sets fd in m from a JSON value of the request body.
func setJSON(m protoreflect.Message, fd protoreflect.FieldDescriptor, v any) error {
	if fd.IsList() {
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("a list field takes a JSON array")
		}
		l := m.Mutable(fd).List()
		for _, e := range arr {
			ev, err := jsonScalarOrMessage(fd, e, l.NewElement)
			if err != nil {
				return err
			}
			l.Append(ev)
		}
		return nil
	}
	ev, err := jsonScalarOrMessage(fd, v, func() protoreflect.Value { return m.NewField(fd) })
	if err != nil {
		return err
	}
	m.Set(fd, ev)
	return nil
}

func jsonScalarOrMessage(fd protoreflect.FieldDescriptor, v any, newMsg func() protoreflect.Value) (protoreflect.Value, error) {
	if fd.Message() != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return protoreflect.Value{}, err
		}
		nm := newMsg()
		if err := (protojson.UnmarshalOptions{}).Unmarshal(b, nm.Message().Interface()); err != nil {
			return protoreflect.Value{}, fmt.Errorf("not a %s: %v", fd.Message().FullName(), err)
		}
		return nm, nil
	}
	return scalar(fd, jsonText(v))
}

// jsonText is a JSON scalar (or claim) as text.
func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
