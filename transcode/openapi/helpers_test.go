package openapi

import (
	"context"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// kitchenMethod compiles transcode's testdata/kitchen.proto, a schema with
// every field kind of the proto3 JSON mapping, and returns one of its
// KitchenService methods.
func kitchenMethod(t testing.TB, name string) protoreflect.MethodDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"../testdata"}})}
	files, err := c.Compile(context.Background(), "kitchen.proto")
	if err != nil {
		t.Fatalf("compiling kitchen.proto: %v", err)
	}
	md := files[0].Services().ByName("KitchenService").Methods().ByName(protoreflect.Name(name))
	if md == nil {
		t.Fatalf("no method %s", name)
	}
	return md
}
