package schemadiff

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Kind is what a Change is about.
type Kind string

// The kinds of Change. Enum values are changes of kind KindEnum whose Path
// names the value (pkg.Color.RED); oneof membership is a KindField change.
const (
	KindService  Kind = "service"
	KindMethod   Kind = "method"
	KindMessage  Kind = "message"
	KindField    Kind = "field"
	KindEnum     Kind = "enum"
	KindHTTPRule Kind = "http_rule"
)

// Op is what happened to the element.
type Op string

// The operations of a Change.
const (
	OpAdded   Op = "added"
	OpRemoved Op = "removed"
	OpChanged Op = "changed"
)

// Change is one difference between two schemas. The JSON is the admin
// API's shape.
type Change struct {
	Kind Kind `json:"kind"`
	Op   Op   `json:"op"`
	// Path is the element's full name: pkg.Service, pkg.Service.Method,
	// pkg.Message, pkg.Message.field, pkg.Enum, pkg.Enum.VALUE; for an
	// http_rule the method's full name.
	Path string `json:"path"`
	// Detail says what changed, in words an SRE can paste in a ticket:
	// "type string → int64", "GET /v1/{name=shelves/*} removed".
	Detail string `json:"detail"`
	// Breaking is true when clients written against the old schema may
	// fail against the new one.
	Breaking bool `json:"breaking"`
}

// String is the change on one line: "breaking: removed method a.B.C: …".
func (c Change) String() string {
	verdict := "non-breaking"
	if c.Breaking {
		verdict = "breaking"
	}
	return fmt.Sprintf("%s: %s %s %s: %s", verdict, c.Op, c.Kind, c.Path, c.Detail)
}

// Schema is one version of an API: the services a gateway routes and the
// registry of the files declaring them with all their dependencies. Files
// may be nil; then only what the services reach is compared.
type Schema struct {
	Services []protoreflect.ServiceDescriptor
	Files    *protoregistry.Files
}

// Diff returns every difference from old to new, sorted by path, then kind
// and operation. Services and methods are compared by name; messages and
// enums by full name over every file of each set (a message moved between
// files is unchanged); fields by number, so that a renamed field and a
// renumbered one are told apart. An element added or removed whole is one
// change: its members are not listed. Safe for concurrent use; it only
// reads the descriptors.
func Diff(old, new Schema) []Change {
	d := &differ{out: []Change{}} // never nil: an empty diff is [] in JSON
	d.services(old.Services, new.Services)
	d.types(collect(old), collect(new))
	slices.SortFunc(d.out, func(a, b Change) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(string(a.Kind), string(b.Kind)),
			strings.Compare(string(a.Op), string(b.Op)), strings.Compare(a.Detail, b.Detail))
	})
	return d.out
}

// Breaking reports whether any change is breaking.
func Breaking(changes []Change) bool {
	return slices.ContainsFunc(changes, func(c Change) bool { return c.Breaking })
}

// Summary is a one-line account of changes for history lists and logs:
// "2 breaking, 1 non-breaking: removed method a.B.C, changed field a.M.f, added …".
// At most five changes are named, breaking ones first.
func Summary(changes []Change) string {
	if len(changes) == 0 {
		return "no API change (options or comments only)"
	}
	breaking := 0
	for _, c := range changes {
		if c.Breaking {
			breaking++
		}
	}
	ordered := slices.Clone(changes)
	slices.SortStableFunc(ordered, func(a, b Change) int {
		if a.Breaking == b.Breaking {
			return 0
		}
		if a.Breaking {
			return -1
		}
		return 1
	})
	var names []string
	for _, c := range ordered[:min(5, len(ordered))] {
		names = append(names, fmt.Sprintf("%s %s %s", c.Op, c.Kind, c.Path))
	}
	if len(ordered) > 5 {
		names = append(names, fmt.Sprintf("and %d more", len(ordered)-5))
	}
	return fmt.Sprintf("%d breaking, %d non-breaking: %s", breaking, len(changes)-breaking, strings.Join(names, ", "))
}

type differ struct{ out []Change }

func (d *differ) add(kind Kind, op Op, path string, breaking bool, format string, args ...any) {
	d.out = append(d.out, Change{Kind: kind, Op: op, Path: path, Detail: fmt.Sprintf(format, args...), Breaking: breaking})
}

func (d *differ) services(old, new []protoreflect.ServiceDescriptor) {
	byName := make(map[protoreflect.FullName]protoreflect.ServiceDescriptor, len(new))
	for _, sd := range new {
		byName[sd.FullName()] = sd
	}
	seen := make(map[protoreflect.FullName]bool, len(old))
	for _, o := range old {
		seen[o.FullName()] = true
		n := byName[o.FullName()]
		if n == nil {
			d.add(KindService, OpRemoved, string(o.FullName()), true, "service removed with its %d method(s)", o.Methods().Len())
			continue
		}
		d.methods(o, n)
	}
	for _, n := range new {
		if !seen[n.FullName()] {
			d.add(KindService, OpAdded, string(n.FullName()), false, "service added with %d method(s)", n.Methods().Len())
		}
	}
}

func (d *differ) methods(old, new protoreflect.ServiceDescriptor) {
	om, nm := old.Methods(), new.Methods()
	for i := range om.Len() {
		o := om.Get(i)
		n := nm.ByName(o.Name())
		path := string(o.FullName())
		if n == nil {
			d.add(KindMethod, OpRemoved, path, true, "method removed (%s)", signature(o))
			d.httpRules(path, rules(o), nil) // the paths that go with it, for whoever calls them
			continue
		}
		if so, sn := signature(o), signature(n); so != sn {
			d.add(KindMethod, OpChanged, path, true, "signature %s → %s", so, sn)
		}
		d.httpRules(path, rules(o), rules(n))
	}
	for i := range nm.Len() {
		n := nm.Get(i)
		if om.ByName(n.Name()) == nil {
			d.add(KindMethod, OpAdded, string(n.FullName()), false, "method added (%s)", signature(n))
		}
	}
}

// signature is a method's request and response types and streaming.
func signature(md protoreflect.MethodDescriptor) string {
	in, out := string(md.Input().FullName()), string(md.Output().FullName())
	if md.IsStreamingClient() {
		in = "stream " + in
	}
	if md.IsStreamingServer() {
		out = "stream " + out
	}
	return "(" + in + ") returns (" + out + ")"
}

// rules maps each HTTP binding of a method ("GET /v1/{name=shelves/*}") to
// its body and response_body.
func rules(md protoreflect.MethodDescriptor) map[string]string {
	opts := md.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		return nil
	}
	rule, ok := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule == nil {
		return nil
	}
	out := map[string]string{}
	var walk func(r *annotations.HttpRule)
	walk = func(r *annotations.HttpRule) {
		verb, path := "", ""
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			verb, path = "GET", p.Get
		case *annotations.HttpRule_Put:
			verb, path = "PUT", p.Put
		case *annotations.HttpRule_Post:
			verb, path = "POST", p.Post
		case *annotations.HttpRule_Delete:
			verb, path = "DELETE", p.Delete
		case *annotations.HttpRule_Patch:
			verb, path = "PATCH", p.Patch
		case *annotations.HttpRule_Custom:
			verb, path = p.Custom.GetKind(), p.Custom.GetPath()
		}
		if verb != "" {
			out[verb+" "+path] = fmt.Sprintf("body %q, response_body %q", r.GetBody(), r.GetResponseBody())
		}
		for _, b := range r.GetAdditionalBindings() {
			walk(b)
		}
	}
	walk(rule)
	return out
}

func (d *differ) httpRules(method string, old, new map[string]string) {
	for _, k := range sortedKeys(old) {
		n, ok := new[k]
		switch {
		case !ok:
			d.add(KindHTTPRule, OpRemoved, method, true, "%s removed", k)
		case n != old[k]:
			d.add(KindHTTPRule, OpChanged, method, true, "%s: %s → %s", k, old[k], n)
		}
	}
	for _, k := range sortedKeys(new) {
		if _, ok := old[k]; !ok {
			d.add(KindHTTPRule, OpAdded, method, false, "%s added", k)
		}
	}
}

// typeSet is every message and enum of a schema by full name.
type typeSet struct {
	messages map[protoreflect.FullName]protoreflect.MessageDescriptor
	enums    map[protoreflect.FullName]protoreflect.EnumDescriptor
}

// collect gathers the messages and enums of every file of s (or, without
// Files, of the files declaring its services and their imports).
func collect(s Schema) typeSet {
	ts := typeSet{messages: map[protoreflect.FullName]protoreflect.MessageDescriptor{},
		enums: map[protoreflect.FullName]protoreflect.EnumDescriptor{}}
	seenFile := map[string]bool{}
	var file func(fd protoreflect.FileDescriptor)
	file = func(fd protoreflect.FileDescriptor) {
		if seenFile[fd.Path()] {
			return
		}
		seenFile[fd.Path()] = true
		ts.addEnums(fd.Enums())
		ts.addMessages(fd.Messages())
		if s.Files == nil {
			for i := range fd.Imports().Len() {
				file(fd.Imports().Get(i).FileDescriptor)
			}
		}
	}
	if s.Files != nil {
		s.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool { file(fd); return true })
	} else {
		for _, sd := range s.Services {
			file(sd.ParentFile())
		}
	}
	return ts
}

func (ts typeSet) addMessages(mds protoreflect.MessageDescriptors) {
	for i := range mds.Len() {
		md := mds.Get(i)
		if md.IsMapEntry() {
			continue // compared as the map field's type
		}
		ts.messages[md.FullName()] = md
		ts.addEnums(md.Enums())
		ts.addMessages(md.Messages())
	}
}

func (ts typeSet) addEnums(eds protoreflect.EnumDescriptors) {
	for i := range eds.Len() {
		ts.enums[eds.Get(i).FullName()] = eds.Get(i)
	}
}

func (d *differ) types(old, new typeSet) {
	for _, name := range sortedKeys(old.messages) {
		o, n := old.messages[name], new.messages[name]
		if n == nil {
			d.add(KindMessage, OpRemoved, string(name), true, "message removed with its %d field(s)", o.Fields().Len())
			continue
		}
		d.fields(o, n)
	}
	for _, name := range sortedKeys(new.messages) {
		if old.messages[name] == nil {
			d.add(KindMessage, OpAdded, string(name), false, "message added with %d field(s)", new.messages[name].Fields().Len())
		}
	}
	for _, name := range sortedKeys(old.enums) {
		o, n := old.enums[name], new.enums[name]
		if n == nil {
			d.add(KindEnum, OpRemoved, string(name), true, "enum removed with its %d value(s)", o.Values().Len())
			continue
		}
		d.enumValues(o, n)
	}
	for _, name := range sortedKeys(new.enums) {
		if old.enums[name] == nil {
			d.add(KindEnum, OpAdded, string(name), false, "enum added with %d value(s)", new.enums[name].Values().Len())
		}
	}
}

// fields compares two versions of a message field by field number: a
// number gone whose name lives on under another number is a renumbering,
// one gone with its name a removal; the same number under another name is
// a rename (JSON clients send names).
func (d *differ) fields(old, new protoreflect.MessageDescriptor) {
	of, nf := old.Fields(), new.Fields()
	for i := range of.Len() {
		o := of.Get(i)
		path := string(o.FullName())
		n := nf.ByNumber(o.Number())
		if n == nil {
			if moved := nf.ByName(o.Name()); moved != nil {
				d.add(KindField, OpChanged, path, true, "number %d → %d", o.Number(), moved.Number())
				d.fieldShape(path, o, moved)
				continue
			}
			d.add(KindField, OpRemoved, path, true, "field %d (%s) removed%s", o.Number(), fieldType(o), reservedNote(new, o))
			continue
		}
		if o.Name() != n.Name() {
			d.add(KindField, OpChanged, path, true, "field %d renamed %s → %s", o.Number(), o.Name(), n.Name())
		} else if o.JSONName() != n.JSONName() {
			d.add(KindField, OpChanged, path, true, "json_name %s → %s", o.JSONName(), n.JSONName())
		}
		d.fieldShape(path, o, n)
	}
	for i := range nf.Len() {
		n := nf.Get(i)
		if of.ByNumber(n.Number()) == nil && of.ByName(n.Name()) == nil {
			d.add(KindField, OpAdded, string(n.FullName()), false, "field %d (%s) added", n.Number(), fieldType(n))
		}
	}
}

// fieldShape compares what a field holds: type, cardinality and oneof.
func (d *differ) fieldShape(path string, o, n protoreflect.FieldDescriptor) {
	if to, tn := typeName(o), typeName(n); to != tn {
		d.add(KindField, OpChanged, path, true, "type %s → %s", to, tn)
	}
	if co, cn := cardinality(o), cardinality(n); co != cn {
		d.add(KindField, OpChanged, path, true, "cardinality %s → %s", co, cn)
	}
	if oo, on := oneofName(o), oneofName(n); oo != on {
		d.add(KindField, OpChanged, path, true, "oneof %s → %s", oo, on)
	}
}

func reservedNote(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) string {
	if md.ReservedRanges().Has(fd.Number()) && md.ReservedNames().Has(fd.Name()) {
		return "; its name and number are reserved"
	}
	return ""
}

// fieldType is a field's full type as written in a .proto file:
// "repeated string", "map<string, int64>", "library.v1.Book".
func fieldType(fd protoreflect.FieldDescriptor) string {
	switch c := cardinality(fd); c {
	case "map", "singular":
		return typeName(fd)
	default:
		return c + " " + typeName(fd)
	}
}

// typeName is the field's type without cardinality.
func typeName(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map<" + typeName(fd.MapKey()) + ", " + typeName(fd.MapValue()) + ">"
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

func cardinality(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.IsList():
		return "repeated"
	case fd.Cardinality() == protoreflect.Required:
		return "required"
	}
	return "singular"
}

// oneofName names the real oneof holding fd ("none" for none; the
// synthetic oneof of a proto3 optional field does not count).
func oneofName(fd protoreflect.FieldDescriptor) string {
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return string(od.Name())
	}
	return "none"
}

// enumValues compares enum values by name (JSON carries names): a removed
// name or a changed number breaks clients.
func (d *differ) enumValues(old, new protoreflect.EnumDescriptor) {
	ov, nv := old.Values(), new.Values()
	for i := range ov.Len() {
		o := ov.Get(i)
		path := string(old.FullName()) + "." + string(o.Name())
		n := nv.ByName(o.Name())
		switch {
		case n == nil:
			d.add(KindEnum, OpRemoved, path, true, "enum value %s = %d removed", o.Name(), o.Number())
		case n.Number() != o.Number():
			d.add(KindEnum, OpChanged, path, true, "enum value %s number %d → %d", o.Name(), o.Number(), n.Number())
		}
	}
	for i := range nv.Len() {
		n := nv.Get(i)
		if ov.ByName(n.Name()) == nil {
			d.add(KindEnum, OpAdded, string(new.FullName())+"."+string(n.Name()), false, "enum value %s = %d added", n.Name(), n.Number())
		}
	}
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
