package fieldmask_test

import (
	"slices"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/transcode/fieldmask"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/known/structpb" // registers struct.proto for the test message
)

// withStruct is message M { Struct struct_field = 1; Value value_field = 2;
// M child = 3; string name = 4; repeated string tags = 5; }, the shape of
// grpc-gateway's a_bit_of_everything Struct/Value fields.
func withStruct(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	str := func(s string) *string { return &s }
	opt, rep := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	msg, s := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_STRING
	field := func(name, json string, n int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: str(name), JsonName: str(json), Number: &n, Label: &label, Type: &typ}
		if typeName != "" {
			f.TypeName = str(typeName)
		}
		return f
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: str("fm/m.proto"), Package: str("fm"), Syntax: str("proto3"),
		Dependency: []string{"google/protobuf/struct.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: str("M"), Field: []*descriptorpb.FieldDescriptorProto{
			field("struct_field", "structField", 1, opt, msg, ".google.protobuf.Struct"),
			field("value_field", "valueField", 2, opt, msg, ".google.protobuf.Value"),
			field("child", "child", 3, opt, msg, ".fm.M"),
			field("name", "name", 4, opt, s, ""),
			field("tags", "tags", 5, rep, s, ""),
		}}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("M")
}

func TestFromJSON(t *testing.T) {
	md := withStruct(t)
	book := (&librarypb.Book{}).ProtoReflect().Descriptor()
	tests := []struct {
		name string
		md   protoreflect.MessageDescriptor
		body string
		want []string
	}{
		{"grpc-gateway's Struct and Value case", md,
			`{"struct_field":{"struct_key":{"layered_struct_key":"v"}},"value_field":{"value_struct_key":"v"}}`,
			[]string{"struct_field.struct_key.layered_struct_key", "value_field.value_struct_key"}},
		{"JSON names, nested message, empty object", md,
			`{"structField":{},"valueField":"scalar","child":{"name":"x","child":{"tags":["a"]}},"name":"n"}`,
			[]string{"child.child.tags", "child.name", "name", "struct_field", "value_field"}},
		{"Struct keys holding arrays and nulls", md, `{"struct_field":{"a":[1,{"b":2}],"c":null}}`,
			[]string{"struct_field.a", "struct_field.c"}},
		{"well-known types are set whole; unknown keys skipped", book,
			`{"publish_time":"2020-01-01T00:00:00Z","rating":4.5,"labels":{"a":"b"},"nope":1}`,
			[]string{"labels", "publish_time", "rating"}},
		{"not an object", md, `null`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fieldmask.FromJSON(tc.md, []byte(tc.body)); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
