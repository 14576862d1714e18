package wirejson

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/refract-gateway/refract/examples/echo/echopb"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// kitchenFile compiles transcode's testdata/kitchen.proto, a schema with
// every field kind of the proto3 JSON mapping.
func kitchenFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"../testdata"}})}
	files, err := c.Compile(context.Background(), "kitchen.proto")
	if err != nil {
		t.Fatalf("compiling kitchen.proto: %v", err)
	}
	return files[0]
}

// kitchen is the Kitchen message type: every kind, nested, repeated,
// mapped, in oneofs and as well-known types.
func kitchen(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	return kitchenFile(t).Messages().ByName("Kitchen")
}

func libraryMessage(name protoreflect.Name) protoreflect.MessageDescriptor {
	return librarypb.File_library_v1_library_proto.Messages().ByName(name)
}

func echoMessage(name protoreflect.Name) protoreflect.MessageDescriptor {
	return echopb.File_echo_v1_echo_proto.Messages().ByName(name)
}

// compile compiles md, failing the test when the codec does not cover it.
func compile(t testing.TB, md protoreflect.MessageDescriptor) *Message {
	t.Helper()
	if md == nil {
		t.Fatal("no such message")
	}
	m, err := NewCompiler().Message(md)
	if err != nil {
		t.Fatal(err)
	}
	return m
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

// recovering runs f (a protobuf-go decode) reporting a panic: protobuf-go
// panics on some malformed map entries in dynamic messages.
func recovering(f func() error) (err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	return f(), false
}
