package reflection

import (
	"slices"
	"strings"
	"time"

	"github.com/refract-gateway/refract/reflection/schemadiff"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Snapshot is one upstream's descriptor set as fetched at one time. It is
// immutable once returned (its TypeResolver only grows a private cache of
// lazily fetched types), so it may be shared by any number of goroutines
// without locking. A Cache hands out a new Snapshot only when the Hash
// changes.
type Snapshot struct {
	// Upstream is the name given to Cache.Add; empty for Fetch.
	Upstream string
	// Hash is the hex SHA-256 over the descriptor set (files sorted by name,
	// deterministic marshal of each FileDescriptorProto). Equal hashes mean
	// equal schemas, including options and comments.
	Hash string
	// Files holds every file of the set: the files declaring Services and all
	// their transitive dependencies, including those taken from refract's
	// linked-in registry when the server does not serve them. Options decode
	// the google.api annotations as their Go types and the upstream's custom
	// options as dynamic extensions.
	Files *protoregistry.Files
	// Services are the routable services, sorted by full name. Services of
	// packages grpc.reflection.* and grpc.health.* are never included. The
	// slice is shared: do not modify it.
	Services []protoreflect.ServiceDescriptor
	// Types resolves message and extension types for google.protobuf.Any in
	// requests, responses and error details (see TypeResolver).
	Types *TypeResolver
	// FetchedAt is when the fetch that produced this set finished.
	FetchedAt time.Time
	// Endpoint is the address of the peer that answered the reflection
	// stream, or empty if the transport did not report one.
	Endpoint string
	// FetchDuration is how long that fetch took.
	FetchDuration time.Duration
	// Source is where the set came from: SourceReflection or SourceFiles.
	// A set loaded from the snapshot directory keeps the source it was
	// fetched from.
	Source Source

	// fdps are the files as fetched or read, sorted by name: what Hash
	// is computed over, what is persisted and what DescriptorSet serves.
	fdps []*descriptorpb.FileDescriptorProto
}

// DescriptorSet returns the set as a FileDescriptorSet (the files as the
// upstream served them or the descriptor-set files held them, every
// dependency included, each file after its imports), for protoc-style
// tools: grpcurl -protoset, buf curl --schema. The files are shared: do
// not modify them. Nil for a Snapshot not made by this package.
func (s *Snapshot) DescriptorSet() *descriptorpb.FileDescriptorSet {
	if s.fdps == nil {
		return nil
	}
	byName := make(map[string]*descriptorpb.FileDescriptorProto, len(s.fdps))
	for _, f := range s.fdps {
		byName[f.GetName()] = f
	}
	out := &descriptorpb.FileDescriptorSet{File: make([]*descriptorpb.FileDescriptorProto, 0, len(s.fdps))}
	done := make(map[string]bool, len(s.fdps))
	var visit func(f *descriptorpb.FileDescriptorProto)
	visit = func(f *descriptorpb.FileDescriptorProto) {
		if done[f.GetName()] {
			return
		}
		done[f.GetName()] = true // before the imports: a cycle ends here, as protoc would refuse it
		for _, dep := range f.GetDependency() {
			if d := byName[dep]; d != nil {
				visit(d)
			}
		}
		out.File = append(out.File, f)
	}
	for _, f := range s.fdps {
		visit(f)
	}
	return out
}

// schema is the snapshot as schemadiff compares it.
func (s *Snapshot) schema() schemadiff.Schema {
	return schemadiff.Schema{Services: s.Services, Files: s.Files}
}

// hasHashPrefix matches a version named by a hash prefix.
func (s *Snapshot) hasHashPrefix(p string) bool {
	return p != "" && strings.HasPrefix(s.Hash, strings.ToLower(p))
}

// serviceNamesOf lists the routable services declared in fdps.
func serviceNamesOf(fdps []*descriptorpb.FileDescriptorProto) []string {
	var names []string
	for _, f := range fdps {
		for _, sd := range f.GetService() {
			names = append(names, strings.TrimPrefix(f.GetPackage()+"."+sd.GetName(), "."))
		}
	}
	return routable(slices.Clip(names))
}

// Method returns the method with the given full name ("pkg.Service.Method")
// among Services, or nil. It is a linear scan over Services, meant for
// building routes and for tools, not for the request path.
func (s *Snapshot) Method(fullName protoreflect.FullName) protoreflect.MethodDescriptor {
	svc, name := fullName.Parent(), fullName.Name()
	for _, sd := range s.Services {
		if sd.FullName() == svc {
			return sd.Methods().ByName(name)
		}
	}
	return nil
}

// MethodCount returns the number of methods over all Services.
func (s *Snapshot) MethodCount() int {
	n := 0
	for _, sd := range s.Services {
		n += sd.Methods().Len()
	}
	return n
}

// MethodNames returns the full names of the methods of Services
// ("pkg.Service.Method"), service by service in order, each service's in
// declaration order.
func (s *Snapshot) MethodNames() []string {
	names := make([]string, 0, s.MethodCount())
	for _, sd := range s.Services {
		ms := sd.Methods()
		for i := 0; i < ms.Len(); i++ {
			names = append(names, string(ms.Get(i).FullName()))
		}
	}
	return names
}

// ServiceNames returns the full names of Services, in order.
func (s *Snapshot) ServiceNames() []string {
	names := make([]string, len(s.Services))
	for i, sd := range s.Services {
		names[i] = string(sd.FullName())
	}
	return names
}
