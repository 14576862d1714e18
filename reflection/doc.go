// Package reflection owns what refract knows about each upstream's API: a
// client of the gRPC server reflection protocol (v1, falling back to v1alpha),
// a descriptor cache per upstream that is filled and refreshed in the
// background, content hashes of descriptor sets, type resolution for
// google.protobuf.Any, and the statistics the admin API shows. It does not
// know HTTP, routes or configuration files: callers hand it a connection per
// upstream and read immutable snapshots back.
//
// # Fetching
//
// Fetch (and every refresh of a Cache) uses a fresh grpcreflect client: it
// lists the services, skips grpc.reflection.* and grpc.health.*, resolves the
// file of each service with all transitive dependencies, and builds one
// protoregistry.Files from them. Files a server does not serve are taken from
// the binary's linked-in registry; the well-known types, google.rpc and
// google.api are always there, because this package links them in. Those
// linked files are also used in place of the server's own copies, so the
// descriptors of an upstream refer to the very descriptors of the Go types
// (timestamppb, errdetails, descriptorpb …). Descriptor options decode as
// known extensions: proto.GetExtension(md.Options(), annotations.E_Http)
// works on reflected methods, and so do the upstream's own custom options
// through Snapshot.Types. A fetch fails with an *Error that names the
// upstream and carries a gRPC code (see ErrNoReflection and
// ErrMissingDescriptor).
//
// # Caching
//
// A Cache keeps one entry per upstream with a state (pending, ready, stale,
// failed), the last good Snapshot and its SHA-256 hash. Each upstream has one
// goroutine that fetches at once on Add, then on a jittered interval, after a
// growing backoff while failing, after EndpointsChanged and, rate-limited,
// after RequestRefresh. Concurrent fetches of one upstream collapse into one
// (singleflight). A failed fetch keeps the last good set; subscribers hear
// only of hash changes and removals. Snapshot is a lock-free read that never
// waits for I/O, so the request path can call it freely.
//
// All exported functions and methods are safe for concurrent use.
package reflection
