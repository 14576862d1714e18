// Package examples runs refract's example gRPC backends: the LibraryService (package
// library, an API annotated with every google.api.http form) and the EchoService
// (package echo, no annotations, all four call shapes) and the AccountsService
// (package accounts, requests with buf.validate rules). Each Backend serves one of them
// on a TCP address with server reflection (v1 and v1alpha) and the standard health
// service, which is all refract needs to learn and route to it.
//
// refract -demo and the gateway's end-to-end tests start them in process; the
// commands in cmd/ run them standalone. Production code must not depend on this
// package.
package examples
