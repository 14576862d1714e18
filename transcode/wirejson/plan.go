package wirejson

import (
	"fmt"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wkt tells the fast path how a message type's JSON form differs from an
// object of its fields.
type wkt uint8

const (
	wktNone      wkt = iota
	wktTimestamp     // RFC 3339 string
	wktDuration      // "1.5s"
	wktWrapper       // the value of its one field
	wktDelegate      // FieldMask, Struct, Value, ListValue: protojson does the value
)

// Message is one message type compiled for direct JSON↔wire transcoding
// (a Compiler's output): field lookup by JSON and proto name and by
// number, in declaration order (the order protojson writes). Immutable once
// compiled and safe for concurrent use; shared by every message type of
// the same Compiler that reaches it. Decode JSON with AppendWire, render
// wire bytes with an Encoder.
type Message struct {
	md     protoreflect.MessageDescriptor
	fields []*Field          // declaration (index) order
	byName map[string]*Field // JSON names win over proto names, as in protojson
	byNum  []*Field          // dense by field number when numbers are small
	numMap map[protowire.Number]*Field
	wkt    wkt
	value  *Field // wktWrapper: the "value" field
}

// Field is one compiled field of a Message: what it is on the wire and in
// JSON. Immutable; safe for concurrent use.
type Field struct {
	fd       protoreflect.FieldDescriptor
	num      protowire.Number
	kind     protoreflect.Kind
	index    int
	jsonKey  []byte // `"jsonName":`
	protoKey []byte // `"proto_name":`
	list     bool
	isMap    bool
	packed   bool // a repeated numeric field, written packed
	presence bool // has explicit presence (message, optional, oneof member)
	oneof    int  // index of the containing oneof (real or synthetic), or -1
	msg      *Message
	enum     *enumPlan
	key, val *Field // map entry's key and value fields
}

// enumPlan maps enum names to numbers and back.
type enumPlan struct {
	byName map[string]int32
	names  map[int32]string
	null   bool // google.protobuf.NullValue: JSON null is its only value
}

// Compiler compiles message types into Messages, each type once (types
// reached from several roots, and recursive types, share one Message).
// The zero value is not usable: call NewCompiler. Not safe for concurrent
// use; the Messages it returns are.
type Compiler struct {
	msgs map[protoreflect.FullName]*Message
}

// NewCompiler returns an empty Compiler.
func NewCompiler() *Compiler {
	return &Compiler{msgs: map[protoreflect.FullName]*Message{}}
}

// Descriptor returns the message type m was compiled from.
func (mp *Message) Descriptor() protoreflect.MessageDescriptor { return mp.md }

// Number returns the field's number.
func (fp *Field) Number() protowire.Number { return fp.num }

// Message returns the compiled type of a message-typed field (singular or
// repeated), or nil for other fields.
func (fp *Field) Message() *Message { return fp.msg }

// IsSingularMessage reports a message-typed field that is neither repeated
// nor a map: the kind of field a google.api.http body or response_body
// may name for direct transcoding.
func (fp *Field) IsSingularMessage() bool { return fp.msg != nil && !fp.list && !fp.isMap }

// errNotCovered explains why a binding takes the protojson path.
type errNotCovered struct{ why string }

func (e *errNotCovered) Error() string { return "not covered by the fast path: " + e.why }

func notCovered(format string, args ...any) error {
	return &errNotCovered{why: fmt.Sprintf(format, args...)}
}

// Message compiles md (and every message type its fields reach) or, when
// the codec does not cover it, returns an error saying why: a message that
// is not proto3, a group field, or google.protobuf.Any (which needs type
// resolution). The caller then uses protojson for that type.
func (p *Compiler) Message(md protoreflect.MessageDescriptor) (*Message, error) {
	if mp, ok := p.msgs[md.FullName()]; ok {
		return mp, nil
	}
	if md.ParentFile() != nil && md.ParentFile().Syntax() != protoreflect.Proto3 {
		// proto2 and editions bring defaults, required fields, groups and
		// closed enums; protojson handles them.
		return nil, notCovered("message %s is not proto3", md.FullName())
	}
	mp := &Message{md: md, byName: map[string]*Field{}}
	p.msgs[md.FullName()] = mp // before the fields: recursive types refer to it
	switch md.FullName() {
	case "google.protobuf.Any":
		delete(p.msgs, md.FullName())
		return nil, notCovered("google.protobuf.Any needs type resolution")
	case "google.protobuf.Timestamp":
		mp.wkt = wktTimestamp
	case "google.protobuf.Duration":
		mp.wkt = wktDuration
	case "google.protobuf.FieldMask", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		mp.wkt = wktDelegate
	default:
		if IsWrapper(md.FullName()) {
			mp.wkt = wktWrapper
		}
	}
	fs := md.Fields()
	maxNum := protowire.Number(0)
	for i := 0; i < fs.Len(); i++ {
		fp, err := p.field(fs.Get(i))
		if err != nil {
			delete(p.msgs, md.FullName())
			return nil, err
		}
		mp.fields = append(mp.fields, fp)
		maxNum = max(maxNum, fp.num)
	}
	// Proto names first, then JSON names over them: protojson looks a name
	// up as a JSON name before it tries it as a proto name.
	for _, fp := range mp.fields {
		mp.byName[string(fp.fd.Name())] = fp
	}
	for _, fp := range mp.fields {
		mp.byName[fp.fd.JSONName()] = fp
	}
	if maxNum <= 256 {
		mp.byNum = make([]*Field, maxNum+1)
		for _, fp := range mp.fields {
			mp.byNum[fp.num] = fp
		}
	} else {
		mp.numMap = make(map[protowire.Number]*Field, len(mp.fields))
		for _, fp := range mp.fields {
			mp.numMap[fp.num] = fp
		}
	}
	if mp.wkt == wktWrapper {
		mp.value = mp.FieldByNumber(1)
	}
	return mp, nil
}

// FieldByNumber returns the field numbered n, or nil.
func (mp *Message) FieldByNumber(n protowire.Number) *Field {
	if mp.byNum != nil {
		if int(n) < len(mp.byNum) && n > 0 {
			return mp.byNum[n]
		}
		return nil
	}
	return mp.numMap[n]
}

func (p *Compiler) field(fd protoreflect.FieldDescriptor) (*Field, error) {
	fp := &Field{
		fd:       fd,
		num:      fd.Number(),
		kind:     fd.Kind(),
		index:    fd.Index(),
		jsonKey:  rpcstatus.AppendJSONString(nil, fd.JSONName()),
		protoKey: rpcstatus.AppendJSONString(nil, string(fd.Name())),
		list:     fd.IsList(),
		isMap:    fd.IsMap(),
		presence: fd.HasPresence(),
		oneof:    -1,
	}
	fp.jsonKey = append(fp.jsonKey, ':')
	fp.protoKey = append(fp.protoKey, ':')
	if od := fd.ContainingOneof(); od != nil {
		fp.oneof = od.Index()
	}
	if fd.Kind() == protoreflect.GroupKind {
		return nil, notCovered("field %s is a group", fd.FullName())
	}
	if fp.isMap {
		k, err := p.field(fd.MapKey())
		if err != nil {
			return nil, err
		}
		v, err := p.field(fd.MapValue())
		if err != nil {
			return nil, err
		}
		fp.key, fp.val = k, v
		return fp, nil
	}
	if fp.list && isPackable(fp.kind) {
		fp.packed = true
	}
	switch fp.kind {
	case protoreflect.MessageKind:
		mp, err := p.Message(fd.Message())
		if err != nil {
			return nil, err
		}
		fp.msg = mp
	case protoreflect.EnumKind:
		fp.enum = compileEnum(fd.Enum())
	}
	return fp, nil
}

func isPackable(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return false
	}
	return true
}

func compileEnum(ed protoreflect.EnumDescriptor) *enumPlan {
	vals := ed.Values()
	ep := &enumPlan{
		byName: make(map[string]int32, vals.Len()),
		names:  make(map[int32]string, vals.Len()),
		null:   ed.FullName() == "google.protobuf.NullValue",
	}
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		ep.byName[string(v.Name())] = int32(v.Number())
		if _, dup := ep.names[int32(v.Number())]; !dup {
			// With allow_alias the first name is protojson's choice too.
			ep.names[int32(v.Number())] = string(v.Name())
		}
	}
	return ep
}

// wireType is the wire type a scalar kind is written with.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	}
	return protowire.VarintType
}
