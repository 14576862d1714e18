package transcode

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/refract-gateway/refract/examples/echo/echopb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// kitchenFile compiles testdata/kitchen.proto, a schema with every field
// kind of the proto3 JSON mapping.
func kitchenFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"testdata"}})}
	files, err := c.Compile(context.Background(), "kitchen.proto")
	if err != nil {
		t.Fatalf("compiling testdata/kitchen.proto: %v", err)
	}
	return files[0]
}

func kitchenMethod(t testing.TB, name string) protoreflect.MethodDescriptor {
	t.Helper()
	md := kitchenFile(t).Services().ByName("KitchenService").Methods().ByName(protoreflect.Name(name))
	if md == nil {
		t.Fatalf("no method %s", name)
	}
	return md
}

func echoMethod(t testing.TB, name string) protoreflect.MethodDescriptor {
	t.Helper()
	return echopb.File_echo_v1_echo_proto.Services().Get(0).Methods().ByName(protoreflect.Name(name))
}

func compileRule(t testing.TB, md protoreflect.MethodDescriptor, rule *annotations.HttpRule, opts Options) *Binding {
	t.Helper()
	bs, err := Compile(md, rule, opts)
	if err != nil {
		t.Fatal(err)
	}
	return bs[0]
}

// jsonEqual compares two JSON documents as values (numbers compared by
// their text, so int64 precision is kept).
func jsonEqual(a, b []byte) bool {
	va, ea := decodeJSONValue(a)
	vb, eb := decodeJSONValue(b)
	return ea == nil && eb == nil && reflect.DeepEqual(va, vb)
}

func decodeJSONValue(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
