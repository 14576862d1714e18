// Package library implements the example LibraryService (library.v1): shelves of books
// kept in memory, seeded with a few well-known books, behind an API annotated with
// every form of google.api.http so the gateway's end-to-end tests have a real backend
// for each. It validates names and fields and reports errors as a production service
// would, with google.rpc error details.
//
// It owns the service logic only; serving it over gRPC with reflection is the job of
// the parent examples package, and the wire types live in librarypb (generated).
package library
