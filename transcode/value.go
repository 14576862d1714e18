package transcode

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// parseScalar converts the text of a path variable or query parameter into a
// value for f, following the proto3 JSON mapping for the same value written
// as a JSON string. Well-known types whose JSON form is a string or number
// (Timestamp, Duration, FieldMask, wrappers) are accepted for message fields.
func parseScalar(f protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch f.Kind() {
	case protoreflect.StringKind:
		// Checked here, as each value is read: a later parameter for the same
		// field must not hide it, and protobuf could not marshal it anyway.
		if !utf8.ValidString(s) {
			return protoreflect.Value{}, errors.New("not valid UTF-8")
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		b, err := decodeBase64(s)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected base64 (standard or URL-safe) bytes")
		}
		return protoreflect.ValueOfBytes(b), nil
	case protoreflect.BoolKind:
		switch s {
		case "true", "1":
			return protoreflect.ValueOfBool(true), nil
		case "false", "0":
			return protoreflect.ValueOfBool(false), nil
		}
		return protoreflect.Value{}, fmt.Errorf("expected true or false")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected a 32-bit integer")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected a 64-bit integer")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected an unsigned 32-bit integer")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected an unsigned 64-bit integer")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		x, err := parseFloat(s, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected a number")
		}
		return protoreflect.ValueOfFloat32(float32(x)), nil
	case protoreflect.DoubleKind:
		x, err := parseFloat(s, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected a number")
		}
		return protoreflect.ValueOfFloat64(x), nil
	case protoreflect.EnumKind:
		return parseEnum(f.Enum(), s)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return parseWellKnown(f.Message(), s)
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported field kind %s", f.Kind())
}

// parseFloat accepts what proto3 JSON accepts in a string: decimal and
// exponent forms, "NaN", "Infinity" and "-Infinity" (not Go's "inf").
func parseFloat(s string, bits int) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	if s == "" || strings.ContainsAny(s, "iInN_xXpP") {
		return 0, strconv.ErrSyntax
	}
	x, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, err
	}
	return x, nil
}

func parseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.Value, error) {
	if v := ed.Values().ByName(protoreflect.Name(s)); v != nil {
		return protoreflect.ValueOfEnum(v.Number()), nil
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		// proto3 enums are open: unknown numbers are kept, as protojson does.
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	vals := ed.Values()
	names := make([]string, 0, vals.Len())
	for i := 0; i < vals.Len() && i < 16; i++ {
		names = append(names, string(vals.Get(i).Name()))
	}
	more := ""
	if vals.Len() > 16 {
		more = ", …"
	}
	return protoreflect.Value{}, fmt.Errorf("expected a value of enum %s (%s%s) or its number", ed.FullName(), strings.Join(names, ", "), more)
}

// parseWellKnown handles the message types whose JSON form is a scalar by
// handing protojson the value as the JSON string it would be in a body, so
// the formats (RFC 3339, "1.5s", "a.b,c") are exactly protojson's.
func parseWellKnown(md protoreflect.MessageDescriptor, s string) (protoreflect.Value, error) {
	msg := dynamicpb.NewMessage(md)
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		// The body decoder's parsers, protojson's grammar; protojson below
		// only for what they reject.
		parse := wirejson.ParseTimestamp
		if md.FullName() == "google.protobuf.Duration" {
			parse = wirejson.ParseDuration
		}
		if secs, nanos, ok := parse(s); ok {
			msg.Set(md.Fields().ByNumber(1), protoreflect.ValueOfInt64(secs))
			msg.Set(md.Fields().ByNumber(2), protoreflect.ValueOfInt32(nanos))
			break
		}
		fallthrough
	case "google.protobuf.FieldMask":
		if err := protojson.Unmarshal(rpcstatus.AppendJSONString(nil, s), msg); err != nil {
			return protoreflect.Value{}, fmt.Errorf("expected a %s in its JSON form", md.Name())
		}
	default:
		if !wirejson.IsWrapper(md.FullName()) {
			return protoreflect.Value{}, fmt.Errorf("message %s cannot be set from a single value; set its fields with dotted names", md.FullName())
		}
		vf := md.Fields().ByName("value")
		v, err := parseScalar(vf, s)
		if err != nil {
			return protoreflect.Value{}, err
		}
		msg.Set(vf, v)
	}
	return protoreflect.ValueOfMessage(msg), nil
}

func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}
