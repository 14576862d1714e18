// Package testkit owns refract's shared test helpers: a write sink safe for
// concurrent use (SyncBuffer), loopback ports nobody listens on (FreePort,
// FreeAddr), polling until a condition holds (Eventually), a gRPC
// interceptor that holds marked calls in flight until a test releases them
// (Hold), and an in-memory listener that HTTP and gRPC clients dial without
// a port (MemListener). It is for tests and test-support packages only and
// must not be imported by production code; it holds no fakes of our own
// components and no test data.
package testkit
