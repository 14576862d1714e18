package transform

import (
	"fmt"
	"net/http"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Request applies the field edits to a decoded request: wire bytes in a
// *transcode.WireMessage (edited as bytes; the message handed in is
// released and a new one returned, or the same one when nothing
// changed), else the dynamic message (edited in place). Values are read
// before anything is removed, so a field can be copied to another and
// removed. When a source cannot be read as its field's type (a header
// "abc" for an integer) it answers 400 itself, releases the request and
// returns false. A nil t returns req.
func (t *Route) Request(w http.ResponseWriter, req any, r *http.Request, codec *transcode.Codec) (any, bool) {
	if t == nil {
		return req, true
	}
	return t.editRequest(w, req, r, codec)
}

func (t *Route) editRequest(w http.ResponseWriter, req any, r *http.Request, codec *transcode.Codec) (any, bool) {
	if t.drop == nil {
		return req, true
	}
	out, err := t.request(req, r, policy.InfoFrom(r.Context()), codec)
	if err != nil {
		st := status.Convert(err)
		rpcstatus.WriteStatus(w, rpcstatus.HTTPStatus(st.Code()), st.Code(), st.Message())
		return nil, false
	}
	return out, true
}

func (t *Route) request(req any, r *http.Request, info *policy.Info, codec *transcode.Codec) (any, error) {
	wm, ok := req.(*transcode.WireMessage)
	if !ok {
		t.stats.dynamicRequests.Add(1)
		return req, t.requestDynamic(req.(proto.Message).ProtoReflect(), r, info)
	}
	t.stats.wireRequests.Add(1)
	data := wm.Bytes()
	var tail []byte
	for i := range t.sets {
		s := &t.sets[i]
		typ, val, found, err := s.wireValue(data, r, info)
		if err != nil {
			wm.Release()
			return nil, err
		}
		if found {
			tail = appendPath(tail, s.path, typ, val)
		}
	}
	out, edited, err := drop(data, t.drop)
	if err != nil {
		wm.Release()
		return nil, status.Errorf(codes.Internal, "transform: the request's wire bytes: %v", err)
	}
	if !edited && len(tail) == 0 {
		return wm, nil
	}
	if !edited { // out is the pooled buffer released below: copy
		out = append(make([]byte, 0, len(data)+len(tail)), data...)
	}
	out = append(out, tail...)
	nm := &transcode.WireMessage{}
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(out)}, nm); err != nil {
		wm.Release()
		return nil, status.Errorf(codes.Internal, "transform: %v", err)
	}
	wm.Release()
	return nm, nil
}

// wireValue is the encoded value a set writes, false when its source is
// missing (the field is then only cleared).
func (s *fieldSet) wireValue(data []byte, r *http.Request, info *policy.Info) (protowire.Type, []byte, bool, error) {
	switch s.src.Kind {
	case FromConst:
		return s.constTyp, s.constVal, true, nil
	case FromField:
		val, typ, found, err := lookup(data, s.srcPath)
		if err != nil {
			return 0, nil, false, status.Errorf(codes.Internal, "transform: the request's wire bytes: %v", err)
		}
		return typ, val, found, nil
	}
	v, found, err := s.value(r, info)
	if err != nil || !found {
		return 0, nil, false, err
	}
	typ, val := encodeScalar(s.path[len(s.path)-1], v)
	return typ, val, true, nil
}

// value reads a text source as the target field's type.
func (s *fieldSet) value(r *http.Request, info *policy.Info) (protoreflect.Value, bool, error) {
	text, found, err := s.src.text(r, info)
	if err == nil && found {
		var v protoreflect.Value
		if v, err = parseScalar(s.path[len(s.path)-1], text); err == nil {
			return v, true, nil
		}
	}
	if err != nil {
		return protoreflect.Value{}, false, status.Error(codes.InvalidArgument, fmt.Sprintf("%s: %v", s.src, err))
	}
	return protoreflect.Value{}, false, nil
}

// requestDynamic is Request on a dynamic message.
func (t *Route) requestDynamic(m protoreflect.Message, r *http.Request, info *policy.Info) error {
	vals := make([]protoreflect.Value, len(t.sets))
	found := make([]bool, len(t.sets))
	for i := range t.sets {
		s := &t.sets[i]
		switch s.src.Kind {
		case FromConst:
			vals[i], found[i] = s.constV, true
		case FromField:
			vals[i], found[i] = get(m, s.srcPath)
		default:
			var err error
			if vals[i], found[i], err = s.value(r, info); err != nil {
				return err
			}
		}
	}
	for _, p := range t.removes {
		clearPath(m, p)
	}
	for i := range t.sets {
		if clearPath(m, t.sets[i].path); found[i] {
			setPath(m, t.sets[i].path, vals[i])
		}
	}
	return nil
}

// get reads a singular field path; false when a message on the way or
// the field is unset.
func get(m protoreflect.Message, path []protoreflect.FieldDescriptor) (protoreflect.Value, bool) {
	for _, fd := range path[:len(path)-1] {
		if !m.Has(fd) {
			return protoreflect.Value{}, false
		}
		m = m.Get(fd).Message()
	}
	leaf := path[len(path)-1]
	if !m.Has(leaf) {
		return protoreflect.Value{}, false
	}
	return m.Get(leaf), true
}

// clearPath clears a field path, in every element of the repeated
// messages it crosses.
func clearPath(m protoreflect.Message, path []protoreflect.FieldDescriptor) {
	fd := path[0]
	if len(path) == 1 {
		m.Clear(fd)
		return
	}
	if !m.Has(fd) {
		return
	}
	if fd.IsList() {
		l := m.Get(fd).List()
		for i := 0; i < l.Len(); i++ {
			clearPath(l.Get(i).Message(), path[1:])
		}
		return
	}
	clearPath(m.Mutable(fd).Message(), path[1:])
}

// setPath sets a singular field path, making the messages on the way.
func setPath(m protoreflect.Message, path []protoreflect.FieldDescriptor, v protoreflect.Value) {
	for _, fd := range path[:len(path)-1] {
		m = m.Mutable(fd).Message()
	}
	m.Set(path[len(path)-1], v)
}

// Metadata applies the metadata edits to md, the request's outgoing
// metadata: renames, removals, then sets (a set whose source the request
// lacks, or whose value metadata cannot carry, removes the key). The
// gateway writes authentication's keys after it, so a transform cannot
// forge them. A nil t changes nothing.
func (t *Route) Metadata(md metadata.MD, r *http.Request, info *policy.Info) {
	if t != nil {
		t.metadata(md, r, info)
	}
}

func (t *Route) metadata(md metadata.MD, r *http.Request, info *policy.Info) {
	e := &t.md
	for _, p := range e.Rename {
		if v, ok := md[p.From]; ok {
			delete(md, p.From)
			md[p.To] = append(md[p.To], v...)
		}
	}
	for _, k := range e.Remove {
		delete(md, k)
	}
	for _, s := range e.Set {
		v, ok, err := s.From.text(r, info)
		if err != nil || !ok || !printable(v) {
			delete(md, s.Key)
			continue
		}
		md[s.Key] = []string{v}
	}
}

// printable reports whether v can be an ASCII metadata value.
func printable(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
