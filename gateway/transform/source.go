package transform

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/refract-gateway/refract/policy"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// text is a source's value as text, false when the request has none (no
// such header, claim or consumer). FromField is read from the message
// instead.
func (s Source) text(r *http.Request, info *policy.Info) (string, bool, error) {
	switch s.Kind {
	case FromConst:
		return s.Arg, true, nil
	case FromHeader:
		v := r.Header.Values(s.Arg)
		if len(v) == 0 {
			return "", false, nil
		}
		return v[0], true, nil
	case FromConsumer:
		if info == nil || info.Consumer == nil {
			return "", false, nil
		}
		return info.ConsumerName(), true, nil
	case FromClaim:
		if info == nil {
			return "", false, nil
		}
		v, ok := info.Claim(s.Arg)
		if !ok {
			return "", false, nil
		}
		return claimText(s.Arg, v)
	}
	return "", false, fmt.Errorf("transform: source %s cannot be read as text", s)
}

// claimText renders a scalar claim as text: numbers as JSON wrote them
// (integers without an exponent).
func claimText(name string, v any) (string, bool, error) {
	switch c := v.(type) {
	case string:
		return c, true, nil
	case bool:
		return strconv.FormatBool(c), true, nil
	case float64:
		if c == math.Trunc(c) && math.Abs(c) < 1<<53 {
			return strconv.FormatInt(int64(c), 10), true, nil
		}
		return strconv.FormatFloat(c, 'g', -1, 64), true, nil
	case nil:
		return "", false, nil
	}
	return "", false, fmt.Errorf("the token's claim %q is not a string, number or boolean", name)
}

// parseScalar reads text as a value of fd, a singular scalar or enum
// field: numbers in decimal, booleans as true/false, enums by name or
// number, bytes as the text's bytes.
func parseScalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	bad := func(what string) (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("%q is not %s (field %s)", s, what, fd.FullName())
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(s) {
			return bad("valid UTF-8")
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(s)), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("a boolean")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.EnumKind:
		if v := fd.Enum().Values().ByName(protoreflect.Name(s)); v != nil {
			return protoreflect.ValueOfEnum(v.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad("a value of enum " + string(fd.Enum().FullName()))
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad("a 32-bit integer")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad("a 64-bit integer")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad("an unsigned 32-bit integer")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad("an unsigned 64-bit integer")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat64(f), nil
	}
	return bad("a scalar")
}
