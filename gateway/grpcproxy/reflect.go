package grpcproxy

import (
	"sort"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Reflection is gRPC server reflection (grpc.reflection.v1 and v1alpha)
// over the services the gateway publishes: the union of every upstream's
// published services, their files rewritten so that hidden methods (and
// services left without a method) do not appear. Update swaps the set
// whenever routes are rebuilt; calls in flight keep the set they started
// with. Safe for concurrent use.
type Reflection struct{ cur atomic.Pointer[reflectSet] }

type reflectSet struct {
	files    *protoregistry.Files
	types    *dynamicpb.Types
	exts     map[protoreflect.FullName][]protoreflect.ExtensionType // by extended message
	services map[string]grpc.ServiceInfo
}

// NewReflection returns a Reflection serving nothing until Update.
func NewReflection() *Reflection {
	r := &Reflection{}
	r.cur.Store(&reflectSet{files: new(protoregistry.Files), types: dynamicpb.NewTypes(new(protoregistry.Files))})
	return r
}

// Register adds both versions of the reflection service to s.
func (r *Reflection) Register(s grpc.ServiceRegistrar) {
	o := reflection.ServerOptions{Services: r, DescriptorResolver: r, ExtensionResolver: r}
	reflectionv1.RegisterServerReflectionServer(s, reflection.NewServerV1(o))
	reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(o))
}

// Schemas are the reflection services' own descriptors, for the gRPC-Web
// and Connect converter.
func (r *Reflection) Schemas() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		reflectionv1.File_grpc_reflection_v1_reflection_proto.Services().Get(0),
		reflectionv1alpha.File_grpc_reflection_v1alpha_reflection_proto.Services().Get(0),
	}
}

// Update publishes methods (possibly of several upstreams) with their
// files and all their dependencies; of two files with one path the first
// is kept. On error the previous set stays.
func (r *Reflection) Update(methods []protoreflect.MethodDescriptor) error {
	published := map[protoreflect.FullName]bool{}
	var files []protoreflect.FileDescriptor
	var add func(fd protoreflect.FileDescriptor)
	added := map[string]bool{}
	add = func(fd protoreflect.FileDescriptor) {
		if added[fd.Path()] {
			return
		}
		added[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		files = append(files, fd) // after its dependencies
	}
	for _, md := range methods {
		published[md.FullName()] = true
		add(md.ParentFile())
	}
	seen := map[string]bool{}
	var set descriptorpb.FileDescriptorSet
	services := map[string]grpc.ServiceInfo{}
	for _, fd := range files {
		if seen[fd.Path()] {
			continue
		}
		seen[fd.Path()] = true
		fdp := protodesc.ToFileDescriptorProto(fd)
		var kept []*descriptorpb.ServiceDescriptorProto
		for i, sdp := range fdp.Service {
			sd := fd.Services().Get(i)
			var methods []*descriptorpb.MethodDescriptorProto
			var info grpc.ServiceInfo
			for j, mdp := range sdp.Method {
				md := sd.Methods().Get(j)
				if published[md.FullName()] {
					methods = append(methods, mdp)
					info.Methods = append(info.Methods, grpc.MethodInfo{Name: string(md.Name()),
						IsClientStream: md.IsStreamingClient(), IsServerStream: md.IsStreamingServer()})
				}
			}
			if len(methods) > 0 {
				sdp.Method = methods
				kept = append(kept, sdp)
				info.Metadata = fd.Path()
				services[string(sd.FullName())] = info
			}
		}
		fdp.Service = kept
		set.File = append(set.File, fdp)
	}
	reg, err := protodesc.NewFiles(&set)
	if err != nil {
		return err
	}
	exts := map[protoreflect.FullName][]protoreflect.ExtensionType{}
	reg.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		addExtensions(exts, fd.Extensions(), fd.Messages())
		return true
	})
	r.cur.Store(&reflectSet{files: reg, types: dynamicpb.NewTypes(reg), exts: exts, services: services})
	return nil
}

// addExtensions indexes xs and the extensions declared inside msgs, at any
// depth, by the message they extend.
func addExtensions(into map[protoreflect.FullName][]protoreflect.ExtensionType, xs protoreflect.ExtensionDescriptors, msgs protoreflect.MessageDescriptors) {
	for i := 0; i < xs.Len(); i++ {
		xd := xs.Get(i)
		into[xd.ContainingMessage().FullName()] = append(into[xd.ContainingMessage().FullName()], dynamicpb.NewExtensionType(xd))
	}
	for i := 0; i < msgs.Len(); i++ {
		addExtensions(into, msgs.Get(i).Extensions(), msgs.Get(i).Messages())
	}
}

// GetServiceInfo lists the published services (reflection's
// ListServices), sorted by the caller.
func (r *Reflection) GetServiceInfo() map[string]grpc.ServiceInfo { return r.cur.Load().services }

// Services lists the published services' names, sorted.
func (r *Reflection) Services() []string {
	var out []string
	for name := range r.cur.Load().services {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// FindFileByPath implements protodesc.Resolver.
func (r *Reflection) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	return r.cur.Load().files.FindFileByPath(path)
}

// FindDescriptorByName implements protodesc.Resolver.
func (r *Reflection) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return r.cur.Load().files.FindDescriptorByName(name)
}

// FindExtensionByName implements reflection's extension resolver.
func (r *Reflection) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return r.cur.Load().types.FindExtensionByName(name)
}

// FindExtensionByNumber implements reflection's extension resolver.
func (r *Reflection) FindExtensionByNumber(message protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return r.cur.Load().types.FindExtensionByNumber(message, n)
}

// RangeExtensionsByMessage implements reflection's extension resolver.
func (r *Reflection) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	for _, xt := range r.cur.Load().exts[message] {
		if !f(xt) {
			return
		}
	}
}
