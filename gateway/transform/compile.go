package transform

import (
	"fmt"
	"strings"

	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Route is a Spec compiled against one route's binding: the field paths
// resolved to descriptors, constants encoded, templates parsed. Immutable;
// safe for concurrent use. A nil *Route is a route without a transform:
// callers check for nil (it costs an untransformed route nothing).
type Route struct {
	stats *Stats
	// request
	sets    []fieldSet
	removes [][]protoreflect.FieldDescriptor
	drop    dropTree // removes and set targets: a set drops what the client sent
	md      MetadataEdits
	// response
	omits    [][]protoreflect.FieldDescriptor
	omit     dropTree
	json     jsonTree // omitted keys and renames in the rendered JSON
	envelope []byte   // `{"<name>":`
	headers  HeaderEdits
	status   map[codes.Code]int
	errBody  *template
}

type fieldSet struct {
	path    []protoreflect.FieldDescriptor
	src     Source
	srcPath []protoreflect.FieldDescriptor // FromField
	// FromConst: the value, decoded and encoded once
	constV   protoreflect.Value
	constTyp protowire.Type
	constVal []byte
}

// Compile checks s against b's request and response messages and
// compiles it; nil when s changes nothing. Its error names the config
// key, the field and the message type it is missing from or cannot
// have; the caller adds the route. Streaming methods take metadata edits
// only: any other edit is an error. stats counts the route's edits (nil:
// not counted).
func Compile(s *Spec, b *transcode.Binding, stats *Stats) (*Route, error) {
	if s.Empty() {
		return nil, nil
	}
	if stats == nil {
		stats = &Stats{}
	}
	t := &Route{stats: stats, md: s.Metadata, headers: s.Headers, status: s.Status}
	if b.ClientStreaming || b.ServerStreaming {
		if k := streamRefused(s); k != "" {
			return nil, fmt.Errorf("transform: %s does not apply to %s-streaming methods: only request.metadata does", k, b.StreamingKind())
		}
		return t, nil
	}
	in, out := b.Method.Input(), b.Method.Output()
	t.drop = dropTree{}
	for i, fs := range s.Set {
		key := fmt.Sprintf("request.set[%d]", i)
		path, err := resolve(in, fs.Field, false)
		if err != nil {
			return nil, fmt.Errorf("transform: %s: %w", key, err)
		}
		leaf := path[len(path)-1]
		if err := scalar(leaf, fs.Field, in); err != nil {
			return nil, fmt.Errorf("transform: %s: %w", key, err)
		}
		set := fieldSet{path: path, src: fs.From}
		switch fs.From.Kind {
		case FromConst:
			if set.constV, err = parseScalar(leaf, fs.From.Arg); err != nil {
				return nil, fmt.Errorf("transform: %s: %s: %w", key, fs.From, err)
			}
			set.constTyp, set.constVal = encodeScalar(leaf, set.constV)
		case FromField:
			if set.srcPath, err = resolve(in, fs.From.Arg, false); err != nil {
				return nil, fmt.Errorf("transform: %s: from %w", key, err)
			}
			src := set.srcPath[len(set.srcPath)-1]
			if err := scalar(src, fs.From.Arg, in); err != nil {
				return nil, fmt.Errorf("transform: %s: from %w", key, err)
			}
			if src.Kind() != leaf.Kind() || (leaf.Kind() == protoreflect.EnumKind && src.Enum().FullName() != leaf.Enum().FullName()) {
				return nil, fmt.Errorf("transform: %s: %s is %s and %s is %s in %s: a field is copied to one of the same type",
					key, fs.From.Arg, kindName(src), fs.Field, kindName(leaf), in.FullName())
			}
		}
		t.sets = append(t.sets, set)
		t.drop.add(path)
	}
	for i, f := range s.Remove {
		path, err := resolve(in, f, true)
		if err != nil {
			return nil, fmt.Errorf("transform: request.remove[%d]: %w", i, err)
		}
		t.removes = append(t.removes, path)
		t.drop.add(path)
	}
	if len(t.drop) == 0 {
		t.drop = nil
	}
	if len(s.Omit) > 0 {
		t.omit = dropTree{}
	}
	for i, f := range s.Omit {
		path, err := resolve(out, f, true)
		if err != nil {
			return nil, fmt.Errorf("transform: response.omit[%d]: %w", i, err)
		}
		t.omits = append(t.omits, path)
		t.omit.add(path)
	}
	if err := t.compileBody(s, b); err != nil {
		return nil, err
	}
	if s.ErrorBody != "" {
		var err error
		if t.errBody, err = parseTemplate(s.ErrorBody); err != nil {
			return nil, fmt.Errorf("transform: errors.body: %w", err)
		}
	}
	return t, nil
}

// streamRefused names the first edit of s a streaming method cannot take.
func streamRefused(s *Spec) string {
	switch {
	case len(s.Set) > 0:
		return "request.set"
	case len(s.Remove) > 0:
		return "request.remove"
	case len(s.Omit) > 0:
		return "response.omit"
	case len(s.Rename) > 0:
		return "response.rename"
	case s.Envelope != "":
		return "response.envelope"
	case len(s.Headers.Set)+len(s.Headers.Remove) > 0:
		return "response.headers"
	case len(s.Status) > 0 || s.ErrorBody != "":
		return "errors"
	}
	return ""
}

// compileBody builds the JSON edits: the omitted fields' keys (under
// the response_body field when the route renders one) and the renames
// and envelope, checked against the message the body renders.
func (t *Route) compileBody(s *Spec, b *transcode.Binding) error {
	protoNames := b.UseProtoNames()
	rp := b.ResponsePath()
	for _, path := range t.omits {
		if len(path) <= len(rp) || !samePath(path[:len(rp)], rp) {
			continue // not rendered: dropping it from the wire is enough
		}
		if t.json == nil {
			t.json = jsonTree{}
		}
		tree := t.json
		for i, fd := range path[len(rp):] {
			k := jsonKey(fd, protoNames)
			n := tree[k]
			if n == nil {
				n = &jsonNode{}
				tree[k] = n
			}
			if i == len(path)-len(rp)-1 {
				n.drop, n.sub = true, nil
				break
			}
			if n.drop {
				break
			}
			if n.sub == nil {
				n.sub = jsonTree{}
			}
			tree = n.sub
		}
	}
	if len(s.Rename) == 0 && s.Envelope == "" {
		return nil
	}
	rendered, what := b.Method.Output(), string(b.Method.Output().FullName())
	if len(rp) > 0 {
		leaf := rp[len(rp)-1]
		rendered, what = nil, "response_body "+b.ResponseField()
		if leaf.Kind() == protoreflect.MessageKind && !leaf.IsList() && !leaf.IsMap() {
			rendered, what = leaf.Message(), string(leaf.Message().FullName())+" (response_body "+b.ResponseField()+")"
		}
	}
	if rendered != nil && (rendered.FullName() == "google.api.HttpBody" || wellKnown(rendered)) {
		return fmt.Errorf("transform: response.rename and response.envelope need a JSON object body; %s renders %s", b.Method.FullName(), rendered.FullName())
	}
	if s.Envelope != "" {
		t.envelope = append(appendKey([]byte("{"), s.Envelope), ':')
	}
	if len(s.Rename) == 0 {
		return nil
	}
	if rendered == nil {
		return fmt.Errorf("transform: response.rename: the body is %s, not a message", what)
	}
	keys := map[string]bool{}
	fields := rendered.Fields()
	for i := 0; i < fields.Len(); i++ {
		keys[jsonKey(fields.Get(i), protoNames)] = true
	}
	if t.json == nil {
		t.json = jsonTree{}
	}
	for i, p := range s.Rename {
		fd := fields.ByName(protoreflect.Name(p.From))
		if fd == nil {
			return fmt.Errorf("transform: response.rename[%d]: no field %q in %s", i, p.From, what)
		}
		if keys[p.To] {
			return fmt.Errorf("transform: response.rename[%d]: %s → %q: %s already has a field rendered as %q", i, p.From, p.To, what, p.To)
		}
		keys[p.To] = true
		k := jsonKey(fd, protoNames)
		n := t.json[k]
		if n == nil {
			n = &jsonNode{}
			t.json[k] = n
		}
		n.rename = appendKey(nil, p.To)
	}
	return nil
}

func samePath(a, b []protoreflect.FieldDescriptor) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wellKnown reports whether md is a google.protobuf type, which JSON
// renders as a scalar or a special shape rather than an object of its
// fields.
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile() != nil && md.ParentFile().Package() == "google.protobuf"
}

// jsonKey is fd's key in rendered JSON.
func jsonKey(fd protoreflect.FieldDescriptor, protoNames bool) string {
	if protoNames {
		return string(fd.Name())
	}
	return fd.JSONName()
}

// resolve turns a dotted path of .proto names into descriptors. Every
// field but the last must be a message (not a map); with lists, a
// repeated message may be crossed (every element is edited).
func resolve(md protoreflect.MessageDescriptor, path string, lists bool) ([]protoreflect.FieldDescriptor, error) {
	root := md
	var out []protoreflect.FieldDescriptor
	for i, name := range strings.Split(path, ".") {
		if i > 0 {
			prev := out[i-1]
			if prev.Kind() != protoreflect.MessageKind || prev.IsMap() || (prev.IsList() && !lists) {
				return nil, fmt.Errorf("field %s: %s is %s, not a message field it can descend into (in %s)",
					path, strings.Join(strings.Split(path, ".")[:i], "."), kindName(prev), root.FullName())
			}
			md = prev.Message()
			if wellKnown(md) {
				return nil, fmt.Errorf("field %s: %s is %s, which JSON renders as a value, not its fields (in %s)",
					path, strings.Join(strings.Split(path, ".")[:i], "."), md.FullName(), root.FullName())
			}
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			where := string(md.FullName())
			if md != root {
				where += " (in " + string(root.FullName()) + ")"
			}
			return nil, fmt.Errorf("field %s: no field %q in message %s", path, name, where)
		}
		out = append(out, fd)
	}
	return out, nil
}

// scalar checks that fd can take one value: a singular scalar or enum.
func scalar(fd protoreflect.FieldDescriptor, path string, root protoreflect.MessageDescriptor) error {
	if fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return fmt.Errorf("field %s of %s is %s: only a singular scalar or enum field can be set", path, root.FullName(), kindName(fd))
	}
	return nil
}

// kindName describes a field's type for errors: "repeated string",
// "message library.v1.Book".
func kindName(fd protoreflect.FieldDescriptor) string {
	k := fd.Kind().String()
	switch {
	case fd.IsMap():
		return "a map"
	case fd.Kind() == protoreflect.MessageKind:
		k = "message " + string(fd.Message().FullName())
	case fd.Kind() == protoreflect.EnumKind:
		k = "enum " + string(fd.Enum().FullName())
	}
	if fd.IsList() {
		return "repeated " + k
	}
	return k
}
