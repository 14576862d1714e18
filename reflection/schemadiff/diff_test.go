package schemadiff_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/reflection/schemadiff"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// schema builds a Schema from one file (importing google/api/annotations
// when a method carries a rule).
func schema(t testing.TB, fdp *descriptorpb.FileDescriptorProto) schemadiff.Schema {
	t.Helper()
	files := new(protoregistry.Files)
	for _, dep := range []protoreflect.FileDescriptor{descriptorpb.File_google_protobuf_descriptor_proto,
		annotations.File_google_api_http_proto, annotations.File_google_api_annotations_proto} {
		if err := files.RegisterFile(dep); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := protodesc.NewFile(fdp, files)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	var svcs []protoreflect.ServiceDescriptor
	for i := range fd.Services().Len() {
		svcs = append(svcs, fd.Services().Get(i))
	}
	return schemadiff.Schema{Services: svcs, Files: files}
}

func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(),
		JsonName: proto.String(name)}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

const (
	optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	tEnum    = descriptorpb.FieldDescriptorProto_TYPE_ENUM
)

func method(name, in, out string, rule *annotations.HttpRule) *descriptorpb.MethodDescriptorProto {
	m := &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(out)}
	if rule != nil {
		m.Options = &descriptorpb.MethodOptions{}
		proto.SetExtension(m.Options, annotations.E_Http, rule)
	}
	return m
}

// library is a small shop API; v2 applies a deploy's worth of changes.
func library(v2 bool) *descriptorpb.FileDescriptorProto {
	book := &descriptorpb.DescriptorProto{Name: proto.String("Book"), Field: []*descriptorpb.FieldDescriptorProto{
		field("name", 1, tString, optional, ""),
		field("title", 2, tString, optional, ""),
		field("pages", 3, tString, optional, ""),
		field("genre", 4, tEnum, optional, ".shop.v1.Genre"),
	}}
	genre := &descriptorpb.EnumDescriptorProto{Name: proto.String("Genre"), Value: []*descriptorpb.EnumValueDescriptorProto{
		{Name: proto.String("GENRE_UNSPECIFIED"), Number: proto.Int32(0)},
		{Name: proto.String("FICTION"), Number: proto.Int32(1)},
		{Name: proto.String("POETRY"), Number: proto.Int32(2)},
	}}
	get := &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=books/*}"}}
	methods := []*descriptorpb.MethodDescriptorProto{
		method("GetBook", ".shop.v1.GetBookRequest", ".shop.v1.Book", get),
		method("DeleteBook", ".shop.v1.GetBookRequest", ".shop.v1.Book", nil),
	}
	msgs := []*descriptorpb.DescriptorProto{book,
		{Name: proto.String("GetBookRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, tString, optional, "")}},
		{Name: proto.String("Shelf"), Field: []*descriptorpb.FieldDescriptorProto{field("books", 1, tMessage, repeated, ".shop.v1.Book")}},
	}
	if v2 {
		book.Field[2] = field("pages", 3, tInt64, optional, "")                    // type changed
		book.Field = append(book.Field, field("author", 5, tString, optional, "")) // added
		genre.Value = genre.Value[:2]                                              // POETRY removed
		methods = methods[:1]                                                      // DeleteBook removed
		get.AdditionalBindings = []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=shelves/*/books/*}"}}}
		methods[0] = method("GetBook", ".shop.v1.GetBookRequest", ".shop.v1.Book", get)
		msgs = append(msgs, &descriptorpb.DescriptorProto{Name: proto.String("Author")})
	}
	return &descriptorpb.FileDescriptorProto{
		Name: proto.String("shop/v1/shop.proto"), Package: proto.String("shop.v1"), Syntax: proto.String("proto3"),
		Dependency:  []string{"google/api/annotations.proto"},
		MessageType: msgs, EnumType: []*descriptorpb.EnumDescriptorProto{genre},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Shop"), Method: methods}},
	}
}

func TestDiffClassifiesADeploy(t *testing.T) {
	changes := schemadiff.Diff(schema(t, library(false)), schema(t, library(true)))
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	want := []string{
		"non-breaking: added message shop.v1.Author: message added with 0 field(s)",
		"non-breaking: added field shop.v1.Book.author: field 5 (string) added",
		"breaking: changed field shop.v1.Book.pages: type string → int64",
		"breaking: removed enum shop.v1.Genre.POETRY: enum value POETRY = 2 removed",
		"breaking: removed method shop.v1.Shop.DeleteBook: method removed ((shop.v1.GetBookRequest) returns (shop.v1.Book))",
		"non-breaking: added http_rule shop.v1.Shop.GetBook: GET /v1/{name=shelves/*/books/*} added",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !schemadiff.Breaking(changes) {
		t.Fatal("Breaking = false for a deploy that removes a method")
	}
	if s := schemadiff.Summary(changes); !strings.HasPrefix(s, "3 breaking, 3 non-breaking: changed field shop.v1.Book.pages, removed enum shop.v1.Genre.POETRY, removed method shop.v1.Shop.DeleteBook") {
		t.Fatalf("summary %q", s)
	}
}

func TestDiffAdditionsAreNotBreaking(t *testing.T) {
	old := library(false)
	next := library(false)
	next.Service[0].Method = append(next.Service[0].Method, method("ListBooks", ".shop.v1.GetBookRequest", ".shop.v1.Shelf", nil))
	next.Service = append(next.Service, &descriptorpb.ServiceDescriptorProto{Name: proto.String("Admin")})
	changes := schemadiff.Diff(schema(t, old), schema(t, next))
	if schemadiff.Breaking(changes) || len(changes) != 2 {
		t.Fatalf("changes %v", changes)
	}
	if d := schemadiff.Diff(schema(t, old), schema(t, library(false))); len(d) != 0 {
		t.Fatalf("equal schemas differ: %v", d)
	}
}

func TestDiffFieldIdentity(t *testing.T) {
	cases := []struct {
		name string
		edit func(m *descriptorpb.DescriptorProto)
		want string
	}{
		{"renumbered", func(m *descriptorpb.DescriptorProto) { m.Field[1].Number = proto.Int32(9) },
			"breaking: changed field shop.v1.Book.title: number 2 → 9"},
		{"renamed", func(m *descriptorpb.DescriptorProto) {
			m.Field[1].Name, m.Field[1].JsonName = proto.String("headline"), proto.String("headline")
		}, "breaking: changed field shop.v1.Book.title: field 2 renamed title → headline"},
		{"made repeated", func(m *descriptorpb.DescriptorProto) { m.Field[1].Label = repeated.Enum() },
			"breaking: changed field shop.v1.Book.title: cardinality singular → repeated"},
		{"removed, reserved", func(m *descriptorpb.DescriptorProto) {
			m.Field = append(m.Field[:1], m.Field[2:]...)
			m.ReservedName = []string{"title"}
			m.ReservedRange = []*descriptorpb.DescriptorProto_ReservedRange{{Start: proto.Int32(2), End: proto.Int32(3)}}
		}, "breaking: removed field shop.v1.Book.title: field 2 (string) removed; its name and number are reserved"},
		{"into a oneof", func(m *descriptorpb.DescriptorProto) {
			m.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("label")}}
			m.Field[1].OneofIndex = proto.Int32(0)
		}, "breaking: changed field shop.v1.Book.title: oneof none → label"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next := library(false)
			c.edit(next.MessageType[0])
			changes := schemadiff.Diff(schema(t, library(false)), schema(t, next))
			if len(changes) != 1 || changes[0].String() != c.want {
				t.Fatalf("changes %v, want [%s]", changes, c.want)
			}
		})
	}
}

// wide is a schema of n messages of ten fields each, one service with a
// method per message; bump changes every tenth message.
func wide(n int, bump bool) *descriptorpb.FileDescriptorProto {
	fdp := &descriptorpb.FileDescriptorProto{Name: proto.String("wide.proto"), Package: proto.String("wide"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto"}}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Wide")}
	for i := range n {
		m := &descriptorpb.DescriptorProto{Name: proto.String(fmt.Sprintf("M%d", i))}
		for j := range 10 {
			typ := tString
			if bump && i%10 == 0 && j == 3 {
				typ = tInt64
			}
			m.Field = append(m.Field, field(fmt.Sprintf("f%d", j), int32(j+1), typ, optional, ""))
		}
		fdp.MessageType = append(fdp.MessageType, m)
		rule := &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: fmt.Sprintf("/v1/m%d/{f0}", i)}}
		svc.Method = append(svc.Method, method(fmt.Sprintf("Get%d", i), fmt.Sprintf(".wide.M%d", i), fmt.Sprintf(".wide.M%d", i), rule))
	}
	fdp.Service = []*descriptorpb.ServiceDescriptorProto{svc}
	return fdp
}

func TestDiffWide(t *testing.T) {
	changes := schemadiff.Diff(schema(t, wide(500, false)), schema(t, wide(500, true)))
	if len(changes) != 50 || !changes[0].Breaking {
		t.Fatalf("%d changes, first %v", len(changes), changes[0])
	}
}

// BenchmarkDiff500Messages is the cost of diffing a 500-message schema
// (5,000 fields, 500 methods with HTTP rules) with 50 changed fields.
func BenchmarkDiff500Messages(b *testing.B) {
	old, next := schema(b, wide(500, false)), schema(b, wide(500, true))
	b.ReportAllocs()
	for b.Loop() {
		if len(schemadiff.Diff(old, next)) != 50 {
			b.Fatal("wrong diff")
		}
	}
}
