// Package discovery owns where upstreams are: the Source interface that
// watches one upstream's endpoint set, the static source, the Consul source
// (blocking health queries, with the wait index carried as Consul's own
// api/watch carries it) and the Consul catalog watch that finds services by
// tag, the Consul KV key watch that carries a fleet's shared config, and a
// gRPC resolver that feeds endpoint sets into the upstream's
// grpc.ClientConn so that grpc-go's balancers spread calls over them.
//
// It knows nothing of HTTP, routes or descriptors; it only moves addresses
// (with the tags and meta the source knows of them). Tests that need a real
// Consul agent start one with the consultest subpackage.
package discovery
