// Package echo implements the example EchoService (echo.v1): a stateless service with
// one method of each gRPC call shape (unary, server streaming, client streaming,
// bidirectional streaming) and no google.api.http annotations, so the gateway serves
// it on default routes.
//
// It owns the service logic only; the parent examples package serves it with
// reflection, and the wire types live in echopb (generated).
package echo
