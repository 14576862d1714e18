package transcode

import (
	"fmt"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/refract-gateway/refract/transcode/wirejson"
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

// msgPlan is one message type compiled for direct JSON↔wire transcoding:
// field lookup by JSON and proto name and by number, in declaration order
// (the order protojson writes). Immutable once compiled; shared by every
// binding of the same schema that reaches the type.
type msgPlan struct {
	md     protoreflect.MessageDescriptor
	fields []*fieldPlan          // declaration (index) order
	byName map[string]*fieldPlan // JSON names win over proto names, as in protojson
	byNum  []*fieldPlan          // dense by field number when numbers are small
	numMap map[protowire.Number]*fieldPlan
	wkt    wkt
	value  *fieldPlan // wktWrapper: the "value" field
}

// fieldPlan is one field: what it is on the wire and in JSON.
type fieldPlan struct {
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
	msg      *msgPlan
	enum     *enumPlan
	key, val *fieldPlan // map entry's key and value fields
}

// enumPlan maps enum names to numbers and back.
type enumPlan struct {
	byName map[string]int32
	names  map[int32]string
	null   bool // google.protobuf.NullValue: JSON null is its only value
}

// planner compiles plans, once per message type, and records why a type
// cannot be covered.
type planner struct {
	msgs map[protoreflect.FullName]*msgPlan
}

// errNotCovered explains why a binding takes the protojson path.
type errNotCovered struct{ why string }

func (e *errNotCovered) Error() string { return "not covered by the fast path: " + e.why }

func notCovered(format string, args ...any) error {
	return &errNotCovered{why: fmt.Sprintf(format, args...)}
}

func (p *planner) message(md protoreflect.MessageDescriptor) (*msgPlan, error) {
	if mp, ok := p.msgs[md.FullName()]; ok {
		return mp, nil
	}
	if md.ParentFile() != nil && md.ParentFile().Syntax() != protoreflect.Proto3 {
		// proto2 and editions bring defaults, required fields, groups and
		// closed enums; protojson handles them.
		return nil, notCovered("message %s is not proto3", md.FullName())
	}
	mp := &msgPlan{md: md, byName: map[string]*fieldPlan{}}
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
		if wirejson.IsWrapper(md.FullName()) {
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
		mp.byNum = make([]*fieldPlan, maxNum+1)
		for _, fp := range mp.fields {
			mp.byNum[fp.num] = fp
		}
	} else {
		mp.numMap = make(map[protowire.Number]*fieldPlan, len(mp.fields))
		for _, fp := range mp.fields {
			mp.numMap[fp.num] = fp
		}
	}
	if mp.wkt == wktWrapper {
		mp.value = mp.lookupNum(1)
	}
	return mp, nil
}

func (mp *msgPlan) lookupNum(n protowire.Number) *fieldPlan {
	if mp.byNum != nil {
		if int(n) < len(mp.byNum) && n > 0 {
			return mp.byNum[n]
		}
		return nil
	}
	return mp.numMap[n]
}

func (p *planner) field(fd protoreflect.FieldDescriptor) (*fieldPlan, error) {
	fp := &fieldPlan{
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
		mp, err := p.message(fd.Message())
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
