package wirejson

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// DecodeOptions are the choices of one JSON → wire decoding, protojson's
// UnmarshalOptions in effect.
type DecodeOptions struct {
	// DiscardUnknown skips unknown fields and unknown enum names instead of
	// rejecting them (protojson's DiscardUnknown).
	DiscardUnknown bool
	// MaxDepth bounds how deeply messages may nest (JSON objects for
	// messages, and Struct/Value/ListValue levels), as protojson's
	// RecursionLimit; deeper documents are an error that contains
	// "exceeded max recursion depth". It must be positive.
	MaxDepth int
}

// AppendWire decodes doc, one JSON value of message type mp in the proto3
// JSON mapping, and appends its wire form (without a tag or length) to
// buf. It accepts and rejects what protojson.Unmarshal accepts and rejects
// with the same options, with messages that name the offending input and
// its position, and writes bytes that unmarshal to the message protojson
// builds. Safe for concurrent use.
func (mp *Message) AppendWire(buf, doc []byte, o DecodeOptions) ([]byte, error) {
	d := decoder{discard: o.DiscardUnknown, depth: o.MaxDepth}
	return d.body(buf, mp, doc)
}

// decoder decodes one JSON document into protobuf wire bytes following
// the proto3 JSON mapping, without building a message. Not safe for
// concurrent use; one per call.
type decoder struct {
	s       scanner
	discard bool // unknown fields and enum names are skipped, not errors
	depth   int  // nesting budget left: DecodeOptions.MaxDepth to start with, as protojson's RecursionLimit
}

// body appends the wire form of the whole document, a value of message
// type mp, to buf.
func (d *decoder) body(buf []byte, mp *Message, doc []byte) ([]byte, error) {
	d.s.in, d.s.pos = doc, 0
	buf, err := d.message(buf, mp, "")
	if err != nil {
		return nil, err
	}
	if d.s.skipWS(); d.s.pos < len(d.s.in) {
		return nil, d.s.unexpected()
	}
	return buf, nil
}

// message appends the fields of the JSON value at the scanner, a message of
// type mp, to buf (without a tag or length: the caller frames it).
func (d *decoder) message(buf []byte, mp *Message, label string) ([]byte, error) {
	d.depth--
	defer func() { d.depth++ }()
	if d.depth < 0 {
		return nil, errors.New("exceeded max recursion depth")
	}
	switch mp.wkt {
	case wktTimestamp:
		return d.secondsNanos(buf, mp, label, ParseTimestamp)
	case wktDuration:
		return d.secondsNanos(buf, mp, label, ParseDuration)
	case wktDelegate:
		return d.delegate(buf, mp, label)
	case wktWrapper:
		return d.singular(buf, mp.value)
	}
	s := &d.s
	if s.peek() != '{' {
		return nil, s.unexpected()
	}
	s.pos++
	var seenSmall, oneofSmall uint64 // bit per field index / oneof index
	var seenBig, oneofBig []bool     // for messages with more than 64 of them
	if len(mp.fields) > 64 {
		seenBig = make([]bool, len(mp.fields))
	}
	if n := mp.md.Oneofs().Len(); n > 64 {
		oneofBig = make([]bool, n)
	}
	for first := true; ; first = false {
		more, err := s.objectNext(first)
		if err != nil {
			return nil, err
		}
		if !more {
			return buf, nil
		}
		namePos := s.pos
		name, err := s.readString()
		if err != nil {
			return nil, err
		}
		fp := mp.byName[string(name)]
		rawName := s.in[namePos:s.pos]
		if err := s.colon(); err != nil {
			return nil, err
		}
		if fp == nil {
			if !d.discard {
				return nil, s.errAt(namePos, "unknown field %s", rawName)
			}
			if err := s.skipValue(d.depth); err != nil {
				return nil, err
			}
			continue
		}
		if seenBig != nil {
			if seenBig[fp.index] {
				return nil, s.errAt(namePos, "duplicate field %s", rawName)
			}
			seenBig[fp.index] = true
		} else {
			if seenSmall&(1<<fp.index) != 0 {
				return nil, s.errAt(namePos, "duplicate field %s", rawName)
			}
			seenSmall |= 1 << fp.index
		}
		if s.peek() == 'n' && !takesNull(fp) {
			// null leaves a field unset (except Value and NullValue).
			if !s.literal() {
				return nil, s.invalidValue()
			}
			continue
		}
		switch {
		case fp.list:
			buf, err = d.list(buf, fp)
		case fp.isMap:
			buf, err = d.mapField(buf, fp)
		default:
			if fp.oneof >= 0 && !fp.fd.ContainingOneof().IsSynthetic() {
				var set bool
				if oneofBig != nil {
					set, oneofBig[fp.oneof] = oneofBig[fp.oneof], true
				} else {
					set = oneofSmall&(1<<fp.oneof) != 0
					oneofSmall |= 1 << fp.oneof
				}
				if set {
					return nil, s.errAt(namePos, "error parsing %s, oneof %s is already set", rawName, fp.fd.ContainingOneof().FullName())
				}
			}
			buf, err = d.singular(buf, fp)
		}
		if err != nil {
			return nil, err
		}
	}
}

// takesNull reports the field types for which JSON null is a value.
func takesNull(fp *Field) bool {
	if fp.list || fp.isMap {
		return false
	}
	return fp.msg != nil && fp.msg.md.FullName() == "google.protobuf.Value" || fp.enum != nil && fp.enum.null
}

// singular appends one tagged value of a non-repeated field.
func (d *decoder) singular(buf []byte, fp *Field) ([]byte, error) {
	if fp.msg != nil {
		return d.framedMessage(buf, fp)
	}
	start := len(buf)
	buf = protowire.AppendTag(buf, fp.num, wireType(fp.kind))
	out, skipped, err := d.scalar(buf, fp)
	if err != nil {
		return nil, err
	}
	if skipped {
		return buf[:start], nil
	}
	return out, nil
}

// framedMessage appends a tagged, length-prefixed message value.
func (d *decoder) framedMessage(buf []byte, fp *Field) ([]byte, error) {
	buf = protowire.AppendTag(buf, fp.num, protowire.BytesType)
	at := len(buf)
	buf = append(buf, 0)
	buf, err := d.message(buf, fp.msg, fp.fd.JSONName())
	if err != nil {
		return nil, err
	}
	return patchLen(buf, at), nil
}

// patchLen writes the length of buf[at+1:] as a varint at buf[at], where one
// byte was reserved, moving the contents when the length needs more bytes.
func patchLen(buf []byte, at int) []byte {
	n := len(buf) - at - 1
	if n < 0x80 {
		buf[at] = byte(n)
		return buf
	}
	k := protowire.SizeVarint(uint64(n))
	buf = append(buf, make([]byte, k-1)...)
	copy(buf[at+k:], buf[at+1:at+1+n])
	protowire.AppendVarint(buf[at:at], uint64(n))
	return buf
}

func (d *decoder) list(buf []byte, fp *Field) ([]byte, error) {
	s := &d.s
	if s.peek() != '[' {
		return nil, s.unexpected()
	}
	s.pos++
	start := len(buf)
	at := -1
	if fp.packed {
		buf = protowire.AppendTag(buf, fp.num, protowire.BytesType)
		at = len(buf)
		buf = append(buf, 0)
	}
	count := 0
	for first := true; ; first = false {
		more, err := s.arrayNext(first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		switch {
		case fp.packed:
			out, skipped, err := d.scalar(buf, fp)
			if err != nil {
				return nil, err
			}
			if !skipped {
				buf = out
				count++
			}
		case fp.msg != nil:
			buf, err = d.framedMessage(buf, fp)
			if err != nil {
				return nil, err
			}
			count++
		default:
			buf, err = d.singular(buf, fp)
			if err != nil {
				return nil, err
			}
		}
	}
	if fp.packed {
		if count == 0 {
			return buf[:start], nil
		}
		return patchLen(buf, at), nil
	}
	return buf, nil
}

func (d *decoder) mapField(buf []byte, fp *Field) ([]byte, error) {
	s := &d.s
	if s.peek() != '{' {
		return nil, s.unexpected()
	}
	s.pos++
	var seen keySet
	for first := true; ; first = false {
		more, err := s.objectNext(first)
		if err != nil {
			return nil, err
		}
		if !more {
			return buf, nil
		}
		keyPos := s.pos
		name, err := s.readString()
		if err != nil {
			return nil, err
		}
		rawKey := s.in[keyPos:s.pos]
		entryStart := len(buf)
		buf = protowire.AppendTag(buf, fp.num, protowire.BytesType)
		at := len(buf)
		buf = append(buf, 0)
		var keyAt int
		var ok bool
		// The key's encoded value (buf[keyAt:keyEnd]) is its canonical form;
		// it stays in place while the value is appended after it.
		buf, keyAt, ok = appendMapKey(buf, fp.key, name)
		if !ok {
			return nil, s.errAt(keyPos, "invalid value for %s key: %s", fp.key.kind, rawKey)
		}
		keyEnd := len(buf)
		if seen.has(buf[keyAt:keyEnd]) {
			return nil, s.errAt(keyPos, "duplicate map key %s", rawKey)
		}
		if err := s.colon(); err != nil {
			return nil, err
		}
		if fp.val.msg != nil {
			buf, err = d.framedMessage(buf, fp.val)
			if err != nil {
				return nil, err
			}
		} else {
			buf = protowire.AppendTag(buf, 2, wireType(fp.val.kind))
			out, skipped, err := d.scalar(buf, fp.val)
			if err != nil {
				return nil, err
			}
			if skipped {
				// An unknown enum name being discarded sets no entry,
				// so the key stays free, as in protojson.
				buf = buf[:entryStart]
				continue
			}
			buf = out
		}
		seen.add(buf[keyAt:keyEnd])
		buf = patchLen(buf, at)
	}
}

// keySet remembers a map's keys in their parsed form ("01" and "1" are the
// same int key) to reject duplicates.
type keySet struct {
	small []string
	big   map[string]struct{}
}

func (k *keySet) has(key []byte) bool {
	if k.big != nil {
		_, ok := k.big[string(key)]
		return ok
	}
	for _, s := range k.small {
		if s == string(key) {
			return true
		}
	}
	return false
}

func (k *keySet) add(key []byte) {
	if k.big != nil {
		k.big[string(key)] = struct{}{}
		return
	}
	k.small = append(k.small, string(key))
	if len(k.small) > 16 {
		k.big = make(map[string]struct{}, 32)
		for _, s := range k.small {
			k.big[s] = struct{}{}
		}
	}
}

// appendMapKey appends the entry's key field, parsed from a JSON object
// name as protojson parses it (strconv rules, not JSON number rules), and
// returns where the encoded key starts: its canonical form for duplicate
// detection.
func appendMapKey(buf []byte, kp *Field, name []byte) ([]byte, int, bool) {
	buf = protowire.AppendTag(buf, 1, wireType(kp.kind))
	mark := len(buf)
	str := unsafeString(name)
	switch kp.kind {
	case protoreflect.StringKind:
		if !utf8.Valid(name) {
			return nil, 0, false
		}
		return protowire.AppendBytes(buf, name), mark, true
	case protoreflect.BoolKind:
		switch str {
		case "true":
			buf = append(buf, 1)
		case "false":
			buf = append(buf, 0)
		default:
			return nil, 0, false
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(str, 10, 32)
		if err != nil {
			return nil, 0, false
		}
		buf = appendInt(buf, kp.kind, n)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return nil, 0, false
		}
		buf = appendInt(buf, kp.kind, n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(str, 10, 32)
		if err != nil {
			return nil, 0, false
		}
		buf = appendUint(buf, kp.kind, n)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(str, 10, 64)
		if err != nil {
			return nil, 0, false
		}
		buf = appendUint(buf, kp.kind, n)
	default:
		return nil, 0, false
	}
	// The encoded value is canonical for every non-string key kind.
	return buf, mark, true
}

// unsafeString views b as a string for parsing only; the string must not
// outlive the call it is passed to (strconv keeps it only in errors, which
// are dropped here).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func appendInt(buf []byte, k protoreflect.Kind, n int64) []byte {
	switch k {
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(buf, protowire.EncodeZigZag(n))
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(buf, uint32(n))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(buf, uint64(n))
	}
	return protowire.AppendVarint(buf, uint64(n))
}

func appendUint(buf []byte, k protoreflect.Kind, n uint64) []byte {
	switch k {
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(buf, uint32(n))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(buf, n)
	}
	return protowire.AppendVarint(buf, n)
}

// scalar appends the untagged wire value of the JSON scalar at the scanner.
// skipped reports an unknown enum name dropped because unknown values are
// being discarded (protojson's behaviour with DiscardUnknown).
func (d *decoder) scalar(buf []byte, fp *Field) (out []byte, skipped bool, err error) {
	s := &d.s
	c := s.peek()
	pos := s.pos
	var str, num []byte // the token: string contents or number text
	isStr, isNum := false, false
	lit := byte(0) // 'n', 't' or 'f' for literals
	switch {
	case c == '"':
		if str, err = s.readString(); err != nil {
			return nil, false, err
		}
		isStr = true
	case c == '-' || c >= '0' && c <= '9':
		var ok bool
		if num, ok = s.number(); !ok {
			return nil, false, s.invalidValue()
		}
		isNum = true
	case c == 'n' || c == 't' || c == 'f':
		if !s.literal() {
			return nil, false, s.invalidValue()
		}
		lit = c
	default:
		return nil, false, s.unexpected()
	}
	bad := func() ([]byte, bool, error) {
		return nil, false, s.errAt(pos, "invalid value for %s field %s: %s", fp.kind, fp.fd.JSONName(), s.in[pos:s.pos])
	}
	// A number in a string must be exactly one JSON number token.
	if isStr && fp.kind != protoreflect.StringKind && fp.kind != protoreflect.BytesKind && fp.kind != protoreflect.EnumKind {
		if n, ok := numberLen(str); ok && n == len(str) && n > 0 {
			num = str
		} else if fp.kind != protoreflect.FloatKind && fp.kind != protoreflect.DoubleKind {
			return bad()
		}
	}
	switch fp.kind {
	case protoreflect.BoolKind:
		switch lit {
		case 't':
			return append(buf, 1), false, nil
		case 'f':
			return append(buf, 0), false, nil
		}
		return bad()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if num == nil {
			return bad()
		}
		n, ok := parseJSONInt(num, bitsOf(fp.kind))
		if !ok {
			return bad()
		}
		return appendInt(buf, fp.kind, n), false, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if num == nil {
			return bad()
		}
		n, ok := parseJSONUint(num, bitsOf(fp.kind))
		if !ok {
			return bad()
		}
		return appendUint(buf, fp.kind, n), false, nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := bitsOf(fp.kind)
		var x float64
		switch {
		case isStr && num == nil:
			switch string(str) {
			case "NaN":
				x = math.NaN()
			case "Infinity":
				x = math.Inf(1)
			case "-Infinity":
				x = math.Inf(-1)
			default:
				return bad()
			}
		case num != nil:
			var err error
			if x, err = strconv.ParseFloat(unsafeString(num), bits); err != nil {
				return bad()
			}
		default:
			return bad()
		}
		if bits == 32 {
			return protowire.AppendFixed32(buf, math.Float32bits(float32(x))), false, nil
		}
		return protowire.AppendFixed64(buf, math.Float64bits(x)), false, nil
	case protoreflect.StringKind:
		if !isStr {
			return bad()
		}
		return protowire.AppendBytes(buf, str), false, nil
	case protoreflect.BytesKind:
		if !isStr {
			return bad()
		}
		out, ok := appendBase64(buf, str)
		if !ok {
			return bad()
		}
		return out, false, nil
	case protoreflect.EnumKind:
		switch {
		case isStr:
			if n, ok := fp.enum.byName[string(str)]; ok {
				return protowire.AppendVarint(buf, uint64(int64(n))), false, nil
			}
			if d.discard {
				return buf, true, nil
			}
		case isNum:
			if n, ok := parseJSONInt(num, 32); ok {
				return protowire.AppendVarint(buf, uint64(n)), false, nil
			}
		case lit == 'n' && fp.enum.null:
			return append(buf, 0), false, nil
		}
		return bad()
	}
	return bad()
}

func bitsOf(k protoreflect.Kind) int {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return 32
	}
	return 64
}

// appendBase64 decodes standard or URL-safe base64, padded or not, choosing
// the encoding as protojson does, and appends it as a length-prefixed field
// value.
func appendBase64(buf, src []byte) ([]byte, bool) {
	enc := base64.StdEncoding
	if bytes.ContainsAny(src, "-_") {
		enc = base64.URLEncoding
	}
	if len(src)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	max := enc.DecodedLen(len(src))
	buf = protowire.AppendVarint(buf, uint64(max))
	at := len(buf)
	buf = append(buf, make([]byte, max)...)
	n, err := enc.Decode(buf[at:], src)
	if err != nil {
		return nil, false
	}
	if n == max {
		return buf, true
	}
	// Fewer bytes than the bound (padding, ignored newlines): rewrite the
	// length prefix.
	data := buf[at : at+n]
	hdr := at - protowire.SizeVarint(uint64(max))
	out := protowire.AppendVarint(buf[:hdr], uint64(n))
	return append(out, data...), true
}

// parseJSONInt converts a JSON number to an integer of bits, accepting what
// protojson accepts: exponents and fractions that leave an integer (1e3,
// 1.0), nothing that does not.
func parseJSONInt(num []byte, bits int) (int64, bool) {
	if plainInt(num) {
		n, err := strconv.ParseInt(unsafeString(num), 10, bits)
		return n, err == nil
	}
	s, ok := normalizeInt(num)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, bits)
	return n, err == nil
}

func parseJSONUint(num []byte, bits int) (uint64, bool) {
	if plainInt(num) && num[0] != '-' {
		n, err := strconv.ParseUint(unsafeString(num), 10, bits)
		return n, err == nil
	}
	s, ok := normalizeInt(num)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, bits)
	return n, err == nil
}

// plainInt reports digits with an optional minus sign, no fraction or
// exponent: the common case strconv can take as it is.
func plainInt(num []byte) bool {
	for i, c := range num {
		if c == '-' && i == 0 {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// normalizeInt rewrites a valid JSON number with a fraction or exponent as
// plain integer digits, or fails when it is not an integer: protojson's
// rules, including its 20-digit bound.
func normalizeInt(num []byte) (string, bool) {
	s := num
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	var intp, frac, exp []byte
	if s[0] == '0' {
		s = s[1:]
	} else {
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		intp, s = s[:n], s[n:]
	}
	if len(s) > 0 && s[0] == '.' {
		n := 1
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		frac, s = bytes.TrimRight(s[1:n], "0"), s[n:]
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		exp = s[1:]
	}
	if len(intp) == 0 && len(frac) == 0 {
		return "0", true
	}
	e := 0
	if len(exp) > 0 {
		v, err := strconv.ParseInt(string(exp), 10, 32)
		if err != nil {
			return "", false
		}
		e = int(v)
	}
	var digits []byte
	if e >= 0 {
		if len(frac) > e || len(intp)+e > 20 {
			return "", false
		}
		digits = append(append([]byte(nil), intp...), frac...)
		for i := 0; i < e-len(frac); i++ {
			digits = append(digits, '0')
		}
	} else {
		if len(frac) > 0 {
			return "", false
		}
		idx := len(intp) + e
		if idx < 0 {
			return "", false
		}
		for _, c := range intp[idx:] {
			if c != '0' {
				return "", false
			}
		}
		digits = intp[:idx]
	}
	if neg {
		return "-" + string(digits), true
	}
	return string(digits), true
}

// delegate hands a well-known type whose JSON form is special (FieldMask,
// Struct, Value, ListValue, and Timestamp and Duration values the fast
// path rejects) to protojson: the value is small, its grammar was checked
// here, and protojson's formats and errors are then exactly protojson's.
func (d *decoder) delegate(buf []byte, mp *Message, label string) ([]byte, error) {
	s := &d.s
	s.skipWS()
	start := s.pos
	if err := s.skipValue(d.depth); err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(mp.md)
	opts := protojson.UnmarshalOptions{DiscardUnknown: d.discard, RecursionLimit: d.depth + 1}
	if err := opts.Unmarshal(s.in[start:s.pos], msg); err != nil {
		what := string(mp.md.FullName())
		if label != "" {
			what = "field " + label + " (" + what + ")"
		}
		return nil, s.errAt(start, "invalid value for %s: %s", what, stripPosition(ProtoErrorText(err)))
	}
	return proto.MarshalOptions{}.MarshalAppend(buf, msg)
}

// stripPosition drops a "(line 1:1): " prefix that refers to a fragment.
func stripPosition(s string) string {
	if strings.HasPrefix(s, "(line ") {
		if _, rest, ok := strings.Cut(s, "): "); ok {
			return rest
		}
	}
	return s
}

// ProtoErrorText is err's text with protojson's "proto: " prefix and its
// non-breaking spaces removed (protojson randomizes them to keep callers
// from matching on text), so that it reads plainly to an HTTP client.
func ProtoErrorText(err error) string {
	s := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	s = strings.TrimPrefix(s, "proto:")
	return strings.TrimSpace(s)
}
