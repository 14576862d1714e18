package examples

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/refract-gateway/refract/examples/library"
	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// StartLibraryV2 starts the LibraryService as a newer build of it would serve it: the
// same service with one method more, GetServerVersion (google.protobuf.Empty in,
// google.protobuf.StringValue "v2" out; no HTTP annotation, so its default route is
// POST /library.v1.LibraryService/GetServerVersion). Run it beside StartLibrary
// backends to see what a gateway does while instances of one service disagree on the
// schema, as in a rolling deploy. Reflection (v1) describes the extended schema.
func StartLibraryV2(addr string, opts ...grpc.ServerOption) (*Backend, error) {
	fd, err := libraryV2File()
	if err != nil {
		return nil, fmt.Errorf("examples: library v2 schema: %w", err)
	}
	desc := librarypb.LibraryService_ServiceDesc
	desc.Methods = append(slices.Clone(desc.Methods), grpc.MethodDesc{
		MethodName: "GetServerVersion",
		Handler:    getServerVersion,
	})
	return start(addr, desc.ServiceName, func(s *grpc.Server) {
		s.RegisterService(&desc, library.NewService())
		serveReflectionOf(s, fd)
	}, opts)
}

func getServerVersion(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(emptypb.Empty)
	if err := dec(in); err != nil {
		return nil, err
	}
	h := func(context.Context, any) (any, error) { return wrapperspb.String("v2"), nil }
	if interceptor == nil {
		return h(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/library.v1.LibraryService/GetServerVersion"}, h)
}

// libraryV2File is library.proto with GetServerVersion added to the service.
func libraryV2File() (protoreflect.FileDescriptor, error) {
	fdp := protodesc.ToFileDescriptorProto(librarypb.File_library_v1_library_proto)
	for _, dep := range []string{"google/protobuf/empty.proto", "google/protobuf/wrappers.proto"} {
		if !slices.Contains(fdp.Dependency, dep) {
			fdp.Dependency = append(fdp.Dependency, dep)
		}
	}
	svc := fdp.Service[0]
	svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
		Name:       new("GetServerVersion"),
		InputType:  new(".google.protobuf.Empty"),
		OutputType: new(".google.protobuf.StringValue"),
	})
	return protodesc.NewFile(fdp, protoregistry.GlobalFiles)
}

// serveReflectionOf registers reflection on s that describes fd instead
// of the linked-in file of the same path (its imports still come from the
// linked-in registry).
func serveReflectionOf(s *grpc.Server, fd protoreflect.FileDescriptor) {
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		panic(err) // a fresh registry holding one file cannot conflict
	}
	rpb.RegisterServerReflectionServer(s, reflection.NewServerV1(reflection.ServerOptions{
		Services:           s,
		DescriptorResolver: overlay{files},
		ExtensionResolver:  protoregistry.GlobalTypes,
	}))
}

// overlay resolves the v2 file first and everything else (its imports) from the
// linked-in registry.
type overlay struct{ files *protoregistry.Files }

func (o overlay) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := o.files.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (o overlay) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := o.files.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(name)
}
