// Package discovery owns where upstreams are: the Source interface that
// watches one upstream's endpoint set, the static source, and a gRPC
// resolver that feeds those sets into the upstream's grpc.ClientConn so that
// grpc-go's balancers spread calls over them.
//
// It knows nothing of HTTP, routes or descriptors; it only moves addresses.
package discovery
