// Package reflection owns what refract knows about each upstream's API: a
// client of the gRPC server reflection protocol (v1, falling back to v1alpha),
// a descriptor cache per upstream that is filled and refreshed in the
// background, content hashes of descriptor sets, type resolution for
// google.protobuf.Any, and the statistics the admin API shows.
//
// It does not know HTTP, routes or configuration files: callers hand it a
// connection per upstream and read immutable snapshots back.
package reflection
