package reflection

import (
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
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
