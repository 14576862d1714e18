// Package discovery owns where upstreams are: the Source interface that
// watches one upstream's endpoint set, and one source per file: the static
// list; Consul (blocking health queries, with the wait index carried as
// Consul's own api/watch carries it), and over several datacenters in
// order of preference; etcd (grpc-go's etcd naming format under a key
// prefix, followed with a watch); and DNS (A/AAAA or SRV, re-resolved on
// an interval and whenever a connection fails). Beside them: the Consul
// catalog watch that finds services by tag, the Consul KV key watch that
// carries a fleet's shared config, and a gRPC resolver that feeds endpoint
// sets into the upstream's grpc.ClientConn so that grpc-go's balancers
// spread calls over them (and passes grpc-go's requests to resolve again
// to the sources that can).
//
// Every source keeps its last good set when its server cannot be read,
// and says so with the error. It knows nothing of HTTP, routes or
// descriptors; it only moves addresses (with the tags and meta the source
// knows of them). Tests start real servers with the consultest, etcdtest
// and dnstest subpackages.
package discovery
