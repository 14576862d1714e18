// Package router owns HTTP route matching for refract: the parser for the
// google.api.http path-template grammar, an immutable table of routes that
// answers Match(method, path) with the route value and its path variables,
// and a Holder that swaps whole tables atomically so lookups never lock.
//
// It knows nothing about protobuf, reflection or transcoding: a route's value
// is of the caller's type, and variables are reported by field path only.
package router
