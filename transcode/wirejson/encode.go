package wirejson

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// ErrNeedsMerge reports wire input the Encoder does not render itself: a
// singular message field sent more than once, which protobuf merges. Valid
// but never produced by a protobuf encoder; the caller falls back to
// unmarshalling and protojson.
var ErrNeedsMerge = errors.New("transcode: singular message field repeated on the wire")

// EncodeOptions are the choices of one wire → JSON rendering, protojson's
// MarshalOptions in effect.
type EncodeOptions struct {
	// UseProtoNames writes the .proto field names instead of json_name.
	UseProtoNames bool
	// EmitUnpopulated writes fields at their zero value too.
	EmitUnpopulated bool
	// MaxDepth bounds how deeply messages may nest in the wire bytes (the
	// top-level message is level 1; Struct, Value and ListValue levels
	// count too); deeper input is a *DepthError. 0 means DefaultMaxDepth.
	// Wire bytes are untrusted: without a bound, a message nested a
	// million levels deep would exhaust the goroutine's stack.
	MaxDepth int
}

// DefaultMaxDepth is the nesting bound of EncodeOptions.MaxDepth and
// CheckDepth when none is given: protojson's RecursionLimit counting, deep
// enough for any real API and far below what could exhaust a stack.
const DefaultMaxDepth = 64

// DepthError reports wire bytes whose messages nest deeper than Limit
// levels.
type DepthError struct {
	// Limit is the nesting bound that was exceeded.
	Limit int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("message nests deeper than the limit of %d levels", e.Limit)
}

// depthLimit is n, or DefaultMaxDepth when n is not positive.
func depthLimit(n int) int {
	if n <= 0 {
		return DefaultMaxDepth
	}
	return n
}

// Encoder renders protobuf wire bytes as proto3 JSON the way protojson
// renders the unmarshalled message: fields in declaration order, json_name
// or proto names, unpopulated fields emitted or not, map keys sorted. Its
// zero value is ready; it keeps scratch indexes from call to call, so reuse
// one (a sync.Pool of them, or one per stream). Not safe for concurrent
// use.
type Encoder struct {
	useProtoNames bool
	emitUnpop     bool
	maxDepth      int     // EncodeOptions.MaxDepth, defaulted
	depth         int     // message levels entered so far
	heads         []int32 // per message level: first and last span per field
	spans         []wspan
	// entries holds the map entries being written, a stack: a map inside
	// a map's value appends above its parent's and truncates back.
	entries []mapEntry
}

// wspan is one occurrence of a field on the wire: its value bytes.
type wspan struct {
	start, end int32
	typ        protowire.Type
	next       int32 // next occurrence of the same field, or -1
}

// AppendJSON renders data, the wire bytes of a message of type mp, as
// JSON appended to out. It rejects what proto.Unmarshal rejects (and
// protojson.Marshal after it: strings that are not UTF-8), and returns
// ErrNeedsMerge, with out unusable, for bytes only protobuf's merge can
// decode. Wire bytes from a well-behaved encoder never need it. Messages
// nested deeper than o.MaxDepth are a *DepthError.
func (e *Encoder) AppendJSON(out []byte, mp *Message, data []byte, o EncodeOptions) ([]byte, error) {
	e.useProtoNames, e.emitUnpop = o.UseProtoNames, o.EmitUnpopulated
	e.maxDepth, e.depth = depthLimit(o.MaxDepth), 0
	e.heads, e.spans = e.heads[:0], e.spans[:0]
	return e.message(out, mp, data)
}

// message appends the JSON object for the wire bytes b of a message of
// type mp.
func (e *Encoder) message(out []byte, mp *Message, b []byte) ([]byte, error) {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > e.maxDepth {
		return nil, &DepthError{Limit: e.maxDepth}
	}
	switch mp.wkt {
	case wktTimestamp:
		return e.timestamp(out, b)
	case wktDuration:
		return e.duration(out, b)
	case wktWrapper:
		return e.wrapper(out, mp, b)
	case wktDelegate:
		return e.delegate(out, mp, b)
	}
	nf := len(mp.fields)
	hbase := len(e.heads)
	for range 2 * nf {
		e.heads = append(e.heads, -1)
	}
	sbase := len(e.spans)
	defer func() {
		e.heads = e.heads[:hbase]
		e.spans = e.spans[:sbase]
	}()
	// Pass 1: index every known field's occurrences.
	var lastOneof []int32 // per oneof: the member set last, as field index+1
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		start, end := off+n, off+n+m
		off = end
		fp := mp.FieldByNumber(num)
		if fp == nil || !wireTypeOK(fp, typ) {
			continue // unknown to this schema: protojson ignores it too
		}
		i := fp.index
		h, t := hbase+2*i, hbase+2*i+1
		if typ == protowire.BytesType {
			start += protowire.SizeVarint(uint64(m - protowire.SizeVarint(uint64(0))))
			_, vn := protowire.ConsumeVarint(b[off-m:])
			start = off - m + vn
		}
		s := int32(len(e.spans))
		e.spans = append(e.spans, wspan{start: int32(start), end: int32(end), typ: typ, next: -1})
		if fp.list || fp.isMap {
			if e.heads[h] < 0 {
				e.heads[h] = s
			} else {
				e.spans[e.heads[t]].next = s
			}
			e.heads[t] = s
			continue
		}
		if prev := e.heads[h]; prev >= 0 {
			if fp.msg != nil {
				return nil, ErrNeedsMerge
			}
			// protobuf checks every occurrence, also those a later one replaces.
			if err := e.check(fp, b, e.spans[prev]); err != nil {
				return nil, err
			}
		}
		e.heads[h], e.heads[t] = s, s // last one wins
		if fp.oneof >= 0 {
			if lastOneof == nil {
				lastOneof = make([]int32, mp.md.Oneofs().Len())
			}
			if prev := lastOneof[fp.oneof] - 1; prev >= 0 && int(prev) != i {
				// Setting another member of a oneof clears the previous one,
				// which protobuf has decoded (and checked) all the same.
				if ph := e.heads[hbase+2*int(prev)]; ph >= 0 {
					if err := e.check(mp.fields[prev], b, e.spans[ph]); err != nil {
						return nil, err
					}
				}
				e.heads[hbase+2*int(prev)] = -1
			}
			lastOneof[fp.oneof] = int32(i) + 1
		}
	}
	// Pass 2: write the fields in declaration order.
	out = append(out, '{')
	first := true
	for i, fp := range mp.fields {
		h := e.heads[hbase+2*i]
		if h >= 0 && !fp.list && !fp.isMap && !fp.presence && isZeroScalar(fp, b, e.spans[h]) {
			h = -1 // an implicit-presence scalar at its zero value is unset
		}
		start := len(out)
		if !first {
			out = append(out, ',')
		}
		if e.useProtoNames {
			out = append(out, fp.protoKey...)
		} else {
			out = append(out, fp.jsonKey...)
		}
		var err error
		var empty bool
		switch {
		case h < 0:
			if !e.emitUnpop || fp.oneof >= 0 {
				out = out[:start]
				continue
			}
			out = appendZero(out, fp)
		case fp.list:
			out, empty, err = e.list(out, fp, b, h)
		case fp.isMap:
			out, empty, err = e.mapValue(out, fp, b, h)
		default:
			sp := e.spans[h]
			out, err = e.value(out, fp, b[sp.start:sp.end], sp.typ)
		}
		if err != nil {
			return nil, err
		}
		if empty && !e.emitUnpop {
			out = out[:start]
			continue
		}
		first = false
	}
	return append(out, '}'), nil
}

// check validates a value that will not be rendered (a replaced
// occurrence) as protobuf's decoder would: strings must be UTF-8 and
// messages well formed. Rare, so rendering into a scratch buffer is fine.
func (e *Encoder) check(fp *Field, b []byte, sp wspan) error {
	v := b[sp.start:sp.end]
	switch {
	case fp.msg != nil:
		_, err := e.message(nil, fp.msg, v)
		return err
	case fp.kind == protoreflect.StringKind && !utf8.Valid(v):
		return fmt.Errorf("transcode: field %s: string is not valid UTF-8", fp.fd.FullName())
	}
	return nil
}

// consumeTag is protowire.ConsumeTag that also rejects field numbers above
// the largest valid one, as protobuf's decoder does.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}

// wireTypeOK reports whether a field may take a record of wire type typ;
// a mismatch makes the record an unknown field, as protobuf decodes it.
func wireTypeOK(fp *Field, typ protowire.Type) bool {
	if fp.isMap || fp.msg != nil {
		return typ == protowire.BytesType
	}
	if fp.packed && typ == protowire.BytesType {
		return true
	}
	return typ == wireType(fp.kind)
}

// isZeroScalar reports a scalar value equal to its type's zero value, which
// protobuf does not keep for fields without presence.
func isZeroScalar(fp *Field, b []byte, sp wspan) bool {
	v := b[sp.start:sp.end]
	switch sp.typ {
	case protowire.VarintType:
		n, _ := protowire.ConsumeVarint(v)
		switch fp.kind {
		case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.EnumKind:
			return uint32(n) == 0
		case protoreflect.Sint32Kind:
			return uint32(n) == 0
		}
		return n == 0
	case protowire.Fixed32Type:
		n, _ := protowire.ConsumeFixed32(v)
		return n == 0
	case protowire.Fixed64Type:
		n, _ := protowire.ConsumeFixed64(v)
		return n == 0
	}
	return len(v) == 0
}

// appendZero writes an unpopulated field as protojson does.
func appendZero(out []byte, fp *Field) []byte {
	switch {
	case fp.list:
		return append(out, "[]"...)
	case fp.isMap:
		return append(out, "{}"...)
	case fp.presence:
		return append(out, "null"...)
	}
	switch fp.kind {
	case protoreflect.BoolKind:
		return append(out, "false"...)
	case protoreflect.StringKind, protoreflect.BytesKind:
		return append(out, `""`...)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return append(out, `"0"`...)
	case protoreflect.EnumKind:
		if fp.enum.null {
			return append(out, "null"...)
		}
		if name, ok := fp.enum.names[0]; ok {
			return rpcstatus.AppendJSONString(out, name)
		}
	}
	return append(out, '0')
}

// value writes one singular value from its wire bytes.
func (e *Encoder) value(out []byte, fp *Field, v []byte, typ protowire.Type) ([]byte, error) {
	if fp.msg != nil {
		return e.message(out, fp.msg, v)
	}
	switch typ {
	case protowire.VarintType:
		n, _ := protowire.ConsumeVarint(v)
		return appendVarintJSON(out, fp, n), nil
	case protowire.Fixed32Type:
		n, _ := protowire.ConsumeFixed32(v)
		switch fp.kind {
		case protoreflect.FloatKind:
			return appendFloatJSON(out, float64(math.Float32frombits(n)), 32), nil
		case protoreflect.Sfixed32Kind:
			return strconv.AppendInt(out, int64(int32(n)), 10), nil
		}
		return strconv.AppendUint(out, uint64(n), 10), nil
	case protowire.Fixed64Type:
		n, _ := protowire.ConsumeFixed64(v)
		switch fp.kind {
		case protoreflect.DoubleKind:
			return appendFloatJSON(out, math.Float64frombits(n), 64), nil
		case protoreflect.Sfixed64Kind:
			out = append(out, '"')
			return append(strconv.AppendInt(out, int64(n), 10), '"'), nil
		}
		out = append(out, '"')
		return append(strconv.AppendUint(out, n, 10), '"'), nil
	}
	if fp.kind == protoreflect.BytesKind {
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, v)
		return append(out, '"'), nil
	}
	if !utf8.Valid(v) {
		return nil, fmt.Errorf("transcode: field %s: string is not valid UTF-8", fp.fd.FullName())
	}
	return appendJSONStringBytes(out, v), nil
}

func appendVarintJSON(out []byte, fp *Field, n uint64) []byte {
	switch fp.kind {
	case protoreflect.BoolKind:
		if n != 0 {
			return append(out, "true"...)
		}
		return append(out, "false"...)
	case protoreflect.Int32Kind:
		return strconv.AppendInt(out, int64(int32(n)), 10)
	case protoreflect.Sint32Kind:
		return strconv.AppendInt(out, int64(int32(protowire.DecodeZigZag(n&math.MaxUint32))), 10)
	case protoreflect.Uint32Kind:
		return strconv.AppendUint(out, uint64(uint32(n)), 10)
	case protoreflect.Int64Kind:
		out = append(out, '"')
		return append(strconv.AppendInt(out, int64(n), 10), '"')
	case protoreflect.Sint64Kind:
		out = append(out, '"')
		return append(strconv.AppendInt(out, protowire.DecodeZigZag(n), 10), '"')
	case protoreflect.Uint64Kind:
		out = append(out, '"')
		return append(strconv.AppendUint(out, n, 10), '"')
	case protoreflect.EnumKind:
		if fp.enum.null {
			return append(out, "null"...)
		}
		if name, ok := fp.enum.names[int32(n)]; ok {
			return rpcstatus.AppendJSONString(out, name)
		}
		return strconv.AppendInt(out, int64(int32(n)), 10)
	}
	return strconv.AppendUint(out, n, 10)
}

// appendFloatJSON is protojson's float format: shortest representation,
// exponent form outside [1e-6, 1e21), NaN and infinities as strings.
func appendFloatJSON(out []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	f := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			f = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, f, -1, bitSize)
	if f == 'e' {
		n := len(out)
		if n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

// appendJSONStringBytes writes valid UTF-8 s as a JSON string with
// protojson's escapes (control characters, quote and backslash only).
func appendJSONStringBytes(out, s []byte) []byte {
	out = append(out, '"')
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] >= ' ' && s[i] != '"' && s[i] != '\\' {
			i++
		}
		out = append(out, s[:i]...)
		if i == len(s) {
			break
		}
		c := s[i]
		out = append(out, '\\')
		switch c {
		case '"', '\\':
			out = append(out, c)
		case '\b':
			out = append(out, 'b')
		case '\f':
			out = append(out, 'f')
		case '\n':
			out = append(out, 'n')
		case '\r':
			out = append(out, 'r')
		case '\t':
			out = append(out, 't')
		default:
			out = append(out, 'u')
			out = append(out, "0000"[1+(bits.Len32(uint32(c))-1)/4:]...)
			out = strconv.AppendUint(out, uint64(c), 16)
		}
		s = s[i+1:]
	}
	return append(out, '"')
}

// list writes a repeated field from all its occurrences (packed or not).
func (e *Encoder) list(out []byte, fp *Field, b []byte, h int32) ([]byte, bool, error) {
	out = append(out, '[')
	n := 0
	for s := h; s >= 0; s = e.spans[s].next {
		sp := e.spans[s]
		v := b[sp.start:sp.end]
		if fp.packed && sp.typ == protowire.BytesType {
			wt := wireType(fp.kind)
			for len(v) > 0 {
				var m int
				switch wt {
				case protowire.VarintType:
					_, m = protowire.ConsumeVarint(v)
				case protowire.Fixed32Type:
					_, m = protowire.ConsumeFixed32(v)
				default:
					_, m = protowire.ConsumeFixed64(v)
				}
				if m < 0 {
					return nil, false, protowire.ParseError(m)
				}
				if n > 0 {
					out = append(out, ',')
				}
				var err error
				if out, err = e.value(out, fp, v[:m], wt); err != nil {
					return nil, false, err
				}
				v = v[m:]
				n++
			}
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = e.value(out, fp, v, sp.typ); err != nil {
			return nil, false, err
		}
		n++
	}
	return append(out, ']'), n == 0, nil
}

// mapEntry is one decoded entry: its key (for sorting) and value bytes.
type mapEntry struct {
	skey     []byte // string keys
	ikey     int64  // signed and bool keys
	ukey     uint64 // unsigned keys
	val      []byte
	valTyp   protowire.Type
	hasValue bool
}

// mapValue writes a map field: entries from every occurrence, the last of
// equal keys winning, sorted as protojson sorts them.
func (e *Encoder) mapValue(out []byte, fp *Field, b []byte, h int32) ([]byte, bool, error) {
	base := len(e.entries)
	defer func() {
		clear(e.entries[base:]) // no reference to a released response stays behind
		e.entries = e.entries[:base]
	}()
	for s := h; s >= 0; s = e.spans[s].next {
		sp := e.spans[s]
		ent, err := parseMapEntry(fp, b[sp.start:sp.end])
		if err != nil {
			return nil, false, err
		}
		e.entries = append(e.entries, ent)
	}
	entries := e.entries[base:]
	kk := fp.key.kind
	cmp := func(a, c mapEntry) int {
		switch kk {
		case protoreflect.StringKind:
			return bytes.Compare(a.skey, c.skey)
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			switch {
			case a.ukey < c.ukey:
				return -1
			case a.ukey > c.ukey:
				return 1
			}
			return 0
		}
		switch {
		case a.ikey < c.ikey:
			return -1
		case a.ikey > c.ikey:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(entries, cmp)
	out = append(out, '{')
	n := 0
	for i, ent := range entries {
		if i+1 < len(entries) && cmp(ent, entries[i+1]) == 0 {
			continue // a later entry with the same key replaces this one
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		switch kk {
		case protoreflect.StringKind:
			out = appendJSONStringBytes(out, ent.skey)
		case protoreflect.BoolKind:
			if ent.ikey != 0 {
				out = append(out, `"true"`...)
			} else {
				out = append(out, `"false"`...)
			}
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			out = append(out, '"')
			out = append(strconv.AppendUint(out, ent.ukey, 10), '"')
		default:
			out = append(out, '"')
			out = append(strconv.AppendInt(out, ent.ikey, 10), '"')
		}
		out = append(out, ':')
		var err error
		switch {
		case ent.hasValue:
			out, err = e.value(out, fp.val, ent.val, ent.valTyp)
		case fp.val.msg != nil:
			out, err = e.message(out, fp.val.msg, nil)
		default:
			vp := *fp.val
			vp.presence, vp.list, vp.isMap = false, false, false
			out = appendZero(out, &vp)
		}
		if err != nil {
			return nil, false, err
		}
	}
	return append(out, '}'), n == 0, nil
}

func parseMapEntry(fp *Field, b []byte) (mapEntry, error) {
	var ent mapEntry
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return ent, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return ent, protowire.ParseError(m)
		}
		v := b[n : n+m]
		b = b[n+m:]
		switch {
		case num == 1 && typ == wireType(fp.key.kind):
			switch typ {
			case protowire.BytesType:
				s, _ := protowire.ConsumeBytes(v)
				if !utf8.Valid(s) {
					return ent, fmt.Errorf("transcode: map %s: key is not valid UTF-8", fp.fd.FullName())
				}
				ent.skey = s
			case protowire.VarintType:
				x, _ := protowire.ConsumeVarint(v)
				switch fp.key.kind {
				case protoreflect.BoolKind:
					ent.ikey = 0
					if x != 0 {
						ent.ikey = 1
					}
				case protoreflect.Int32Kind:
					ent.ikey = int64(int32(x))
				case protoreflect.Sint32Kind:
					ent.ikey = int64(int32(protowire.DecodeZigZag(x & math.MaxUint32)))
				case protoreflect.Sint64Kind:
					ent.ikey = protowire.DecodeZigZag(x)
				case protoreflect.Uint32Kind:
					ent.ukey = uint64(uint32(x))
				case protoreflect.Uint64Kind:
					ent.ukey = x
				default:
					ent.ikey = int64(x)
				}
			case protowire.Fixed32Type:
				x, _ := protowire.ConsumeFixed32(v)
				ent.ukey, ent.ikey = uint64(x), int64(int32(x))
			case protowire.Fixed64Type:
				x, _ := protowire.ConsumeFixed64(v)
				ent.ukey, ent.ikey = x, int64(x)
			}
		case num == 2 && wireTypeOK(fp.val, typ):
			if fp.val.msg != nil && ent.hasValue {
				return ent, ErrNeedsMerge
			}
			if typ == protowire.BytesType {
				v, _ = protowire.ConsumeBytes(v)
			}
			ent.val, ent.valTyp, ent.hasValue = v, typ, true
		}
	}
	return ent, nil
}

// lastVarints reads fields 1 and 2 as varints (last occurrence wins), the
// layout of Timestamp and Duration.
func lastVarints(b []byte) (f1 int64, f2 int32, err error) {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return 0, 0, protowire.ParseError(m)
		}
		if typ == protowire.VarintType && (num == 1 || num == 2) {
			x, _ := protowire.ConsumeVarint(b[n:])
			if num == 1 {
				f1 = int64(x)
			} else {
				f2 = int32(x)
			}
		}
		b = b[n+m:]
	}
	return f1, f2, nil
}

func (e *Encoder) timestamp(out, b []byte) ([]byte, error) {
	secs, nanos, err := lastVarints(b)
	if err != nil {
		return nil, err
	}
	if secs < -62135596800 || secs > 253402300799 {
		return nil, fmt.Errorf("google.protobuf.Timestamp: seconds out of range %v", secs)
	}
	if nanos < 0 || nanos > 1e9 {
		return nil, fmt.Errorf("google.protobuf.Timestamp: nanos out of range %v", nanos)
	}
	out = append(out, '"')
	start := len(out)
	out = time.Unix(secs, int64(nanos)).UTC().AppendFormat(out, "2006-01-02T15:04:05.000000000")
	out = trimFraction(out, start)
	return append(out, 'Z', '"'), nil
}

// trimFraction drops trailing groups of three zeros from a nine-digit
// fraction, and the fraction itself when it is all zeros: protojson keeps
// 0, 3, 6 or 9 digits.
func trimFraction(out []byte, start int) []byte {
	for range 2 {
		if bytes.HasSuffix(out[start:], []byte("000")) {
			out = out[:len(out)-3]
		}
	}
	if bytes.HasSuffix(out[start:], []byte(".000")) {
		out = out[:len(out)-4]
	}
	return out
}

func (e *Encoder) duration(out, b []byte) ([]byte, error) {
	secs, nanos32, err := lastVarints(b)
	if err != nil {
		return nil, err
	}
	nanos := int64(nanos32)
	if secs < -315576000000 || secs > 315576000000 {
		return nil, fmt.Errorf("google.protobuf.Duration: seconds out of range %v", secs)
	}
	if nanos < -1e9 || nanos > 1e9 {
		return nil, fmt.Errorf("google.protobuf.Duration: nanos out of range %v", nanos)
	}
	if secs > 0 && nanos < 0 || secs < 0 && nanos > 0 {
		return nil, errors.New("google.protobuf.Duration: signs of seconds and nanos do not match")
	}
	out = append(out, '"')
	start := len(out)
	if secs < 0 || nanos < 0 {
		out = append(out, '-')
		secs, nanos = -secs, -nanos
	}
	out = strconv.AppendInt(out, secs, 10)
	out = append(out, '.')
	for p := int64(1e8); p > nanos && p > 1; p /= 10 {
		out = append(out, '0')
	}
	out = strconv.AppendInt(out, nanos, 10)
	out = trimFraction(out, start)
	return append(out, 's', '"'), nil
}

func (e *Encoder) wrapper(out []byte, mp *Message, b []byte) ([]byte, error) {
	fp := mp.value
	var last []byte
	var typ protowire.Type
	found := false
	for len(b) > 0 {
		num, t, n := consumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, t, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == 1 && t == wireType(fp.kind) {
			last, typ, found = b[n:n+m], t, true
			if t == protowire.BytesType {
				last, _ = protowire.ConsumeBytes(last)
			}
		}
		b = b[n+m:]
	}
	if !found {
		return appendZero(out, fp), nil
	}
	return e.value(out, fp, last, typ)
}

// delegate renders FieldMask, Struct, Value and ListValue through protojson:
// rare in responses, and their rules (path casing, null values) are then
// protojson's exactly. Their own nesting (a Struct of Structs) is
// bounded by what is left of the depth budget.
func (e *Encoder) delegate(out []byte, mp *Message, b []byte) ([]byte, error) {
	// This level is counted already. proto counts map entries as levels
	// too (a Struct's fields), so its limit is twice what is left, after
	// CheckDepth has counted as the rest of the Encoder does.
	left := e.maxDepth - e.depth + 1
	if err := checkDepth(mp.md, b, 1, left); err != nil {
		var de *DepthError
		if errors.As(err, &de) {
			return nil, &DepthError{Limit: e.maxDepth}
		}
		return nil, err
	}
	msg := dynamicpb.NewMessage(mp.md)
	if err := (proto.UnmarshalOptions{RecursionLimit: 2 * left}).Unmarshal(b, msg); err != nil {
		return nil, err
	}
	js, err := protojson.MarshalOptions{UseProtoNames: e.useProtoNames, EmitUnpopulated: e.emitUnpop}.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return append(out, js...), nil
}
