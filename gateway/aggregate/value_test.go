package aggregate

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/apipb"
)

// Text values parse as the field's type; the fields of
// google.protobuf.Method and Field cover the kinds.
func TestScalar(t *testing.T) {
	method := (&apipb.Method{}).ProtoReflect().Descriptor().Fields()
	fieldFDs := (&descriptorpb.FieldDescriptorProto{}).ProtoReflect().Descriptor().Fields()
	for _, c := range []struct {
		fd   protoreflect.FieldDescriptor
		in   string
		want any
		err  string
	}{
		{method.ByName("name"), "Get", "Get", ""},
		{method.ByName("request_streaming"), "true", true, ""},
		{method.ByName("request_streaming"), "yes", nil, "true or false"},
		{fieldFDs.ByName("number"), "42", int32(42), ""},
		{fieldFDs.ByName("number"), "4294967296", nil, "32-bit integer"},
		{fieldFDs.ByName("label"), "LABEL_REPEATED", protoreflect.EnumNumber(3), ""},
		{fieldFDs.ByName("label"), "2", protoreflect.EnumNumber(2), ""},
		{fieldFDs.ByName("label"), "MANY", nil, "is not a value of google.protobuf.FieldDescriptorProto.Label"},
	} {
		v, err := scalar(c.fd, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: error %v, want %q", c.fd.Name(), c.in, err, c.err)
			}
			continue
		}
		if err != nil || v.Interface() != c.want {
			t.Errorf("%s %q = %v, %v; want %v", c.fd.Name(), c.in, v.Interface(), err, c.want)
		}
	}
}

func TestSetJSONAndCopy(t *testing.T) {
	md := (&apipb.Api{}).ProtoReflect().Descriptor()
	m := dynamicpb.NewMessage(md)
	var body map[string]any
	if err := json.Unmarshal([]byte(`{"methods":[{"name":"Get"},{"name":"List"}],"version":2}`), &body); err != nil {
		t.Fatal(err)
	}
	fds := md.Fields()
	if err := setJSON(m, fds.ByName("methods"), body["methods"]); err != nil {
		t.Fatal(err)
	}
	if err := setJSON(m, fds.ByName("version"), body["version"]); err != nil {
		t.Fatal(err)
	}
	if m.Get(fds.ByName("methods")).List().Len() != 2 || m.Get(fds.ByName("version")).String() != "2" {
		t.Fatalf("message %v", m)
	}
	if err := setJSON(m, fds.ByName("methods"), "x"); err == nil {
		t.Fatal("a string set a list")
	}
	// A response's list field copied into another message of the same
	// type, through the wire.
	to := dynamicpb.NewMessage(md)
	if err := copyField(to, fds.ByName("methods"), fds.ByName("methods"), m.Get(fds.ByName("methods"))); err != nil {
		t.Fatal(err)
	}
	if l := to.Get(fds.ByName("methods")).List(); l.Len() != 2 || l.Get(1).Message().Get(l.Get(1).Message().Descriptor().Fields().ByName("name")).String() != "List" {
		t.Fatalf("copied %v", to)
	}
}
