package examples

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/refract-gateway/refract/examples/library"
	"github.com/refract-gateway/refract/examples/library/librarypb"
)

//go:embed proto/library/v1/library.proto
var libraryProto string

// StartLibraryDocumented starts the LibraryService as StartLibrary does, but its
// reflection service describes the schema with source info: the comments of
// library.proto travel with the descriptors (protoc-gen-go strips them from generated
// code, so StartLibrary's reflection has none). A gateway can then show them, e.g. as
// descriptions in an OpenAPI document. The schema is compiled from the embedded
// library.proto when the backend starts; it equals StartLibrary's but for the comments.
func StartLibraryDocumented(addr string, opts ...grpc.ServerOption) (*Backend, error) {
	fd, err := libraryFileWithSourceInfo()
	if err != nil {
		return nil, fmt.Errorf("examples: library schema with source info: %w", err)
	}
	return start(addr, librarypb.LibraryService_ServiceDesc.ServiceName, func(s *grpc.Server) {
		librarypb.RegisterLibraryServiceServer(s, library.NewService())
		serveReflectionOf(s, fd)
	}, opts)
}

// libraryFileWithSourceInfo compiles library.proto with its comments; its imports
// (well-known types, google.api) are the linked-in files, as a server's own
// registry would hold them.
func libraryFileWithSourceInfo() (protoreflect.FileDescriptor, error) {
	const path = "library/v1/library.proto"
	c := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{path: libraryProto})},
			protocompile.ResolverFunc(func(name string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(name)
				if err != nil {
					return protocompile.SearchResult{}, err
				}
				return protocompile.SearchResult{Desc: fd}, nil
			}),
		},
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return files[0], nil
}
