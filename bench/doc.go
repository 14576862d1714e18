// Package bench is the side-by-side benchmark of refract against direct gRPC
// and grpc-gateway v2: a module of its own so that grpc-gateway and the code
// generated for it never enter the gateway's dependencies. Run it with
// bench/run.sh (see cmd/bench). The generated code in benchpb comes from
// proto/bench/v1/bench.proto through gen.sh.
package bench

//go:generate bash gen.sh
