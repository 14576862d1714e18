package schemadiff_test

import (
	"fmt"

	"github.com/refract-gateway/refract/reflection/schemadiff"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ExampleDiff compares two deploys of an API: the second drops a method
// and widens a field, and says which of that breaks clients.
func ExampleDiff() {
	build := func(fdp *descriptorpb.FileDescriptorProto) schemadiff.Schema {
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		files := new(protoregistry.Files)
		if err := files.RegisterFile(fd); err != nil {
			panic(err)
		}
		return schemadiff.Schema{Services: []protoreflect.ServiceDescriptor{fd.Services().Get(0)}, Files: files}
	}
	old, next := library(false), library(false)
	next.MessageType[0].Field[2].Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	next.Service[0].Method = next.Service[0].Method[:1]

	changes := schemadiff.Diff(build(old), build(next))
	for _, c := range changes {
		fmt.Println(c)
	}
	fmt.Println(schemadiff.Summary(changes))
	// Output:
	// breaking: changed field shop.v1.Book.pages: type string → int64
	// breaking: removed method shop.v1.Shop.DeleteBook: method removed ((shop.v1.GetBookRequest) returns (shop.v1.Book))
	// 2 breaking, 0 non-breaking: changed field shop.v1.Book.pages, removed method shop.v1.Shop.DeleteBook
}
