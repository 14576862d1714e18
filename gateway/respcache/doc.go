// Package respcache is the response cache of HTTP+JSON routes: successful
// responses of GET routes and side-effect-free methods, kept for a TTL
// (the configured one, or the backend's Cache-Control max-age), keyed by
// route, path, query, the configured vary headers and the caller's
// identity, in a size-bounded in-process store or in Redis when shared
// between instances.
//
// It owns keys, freshness rules and the stores; which routes are cached
// and when a response is written is the engine's.
package respcache
