// Package router owns HTTP route matching for refract: the parser for the
// google.api.http path-template grammar (ParseTemplate), an immutable table
// of routes that answers Match(method, path) with the route value and its
// path variables (NewTable, Table), and a Holder that swaps whole tables
// atomically so lookups never lock. It knows nothing about protobuf,
// reflection, transcoding or configuration: a route's value is of the
// caller's type, and variables are reported by field path only.
//
// # Matching
//
// Match runs on the escaped path (r.URL.EscapedPath()). Among the routes of
// the request's method, literal beats "*" beats "**", segment by segment
// from the left, with backtracking: a later mismatch falls back to the
// next-best alternative. The result does not depend on the order of the
// entries. "*" matches one non-empty segment; "**" matches zero or more.
// Literals compare with the path's segments as escaped, with escapes
// normalized (RFC 3986 §6.2.2: "%7e" is "~", "%2f" is "%2F"; "%2F" is never
// "/" and "%3A" never ":").
//
// A ':' in the last segment starts a custom verb (the text after the last
// ':') when some route with that verb, of any method, matches the path;
// otherwise the colon is part of the segment. So a GET on a URL that is a
// POST-only custom method gets 405, not the resource named "x:merge".
//
// Variables follow http.proto: a single-segment variable is fully
// percent-decoded; a multi-segment one (Variable.Multi) is decoded except
// "%2F"/"%2f", which stay as sent. A path with a malformed escape ('%' not
// followed by two hex digits) matches nothing; net/http already answers 400
// for such request targets.
//
// Match reports Found, MethodNotAllowed (the path matches routes of other
// methods only; Allowed lists them for the Allow header) or NotFound.
//
// # Path safety
//
// CheckPath refuses, before any policy runs, the spellings different
// parsers read differently: dot segments (also escaped), control bytes,
// backslashes, malformed escapes and bytes that are not UTF-8. After a
// match, Template.CheckEscapes refuses an encoded '/', '\' or ';' that a
// "*" captured: only "**" keeps it as data. Both return a *PathError
// (INVALID_ARGUMENT) naming the segment.
//
// # Design
//
// All methods share one segment trie: an edge is a literal segment or "*",
// "**" routes hang off the node where their prefix ends (it is always last),
// and each node lists the routes ending there tagged with verb and method.
// Every node carries masks of the methods and verbs below it, so a walk for
// one method skips subtrees serving only others, and the 405 check is a
// second walk of the same trie with any method allowed, only on a miss. A
// walk visits each node at most once, so it is linear in the trie's size
// whatever the path. Two routes with the same method and shape land on the
// same leaf: that is how NewTable finds conflicts, and it reports them
// instead of picking one.
//
// Tables are immutable once built; the gateway builds and validates a new
// one off the request path and swaps it in with Holder.Store, keeping the
// old one when NewTable fails. Errors carry a gRPC code (GRPCStatus):
// InvalidArgument for *TemplateError and *EntryError, AlreadyExists for
// *ConflictError.
//
// # Performance
//
// Measured with
//
//	go test -run '^$' -bench . -benchmem ./router/
//
// on a table of 1,000 routes shaped like Google APIs (100 collections with
// list, create, get, update, delete, nested list and get, a custom verb, a
// project/location-scoped get and a "**" route), Intel Xeon 2.80GHz, 2
// CPUs, go1.26.8 (medians of 5 runs on a shared machine):
//
//	BenchmarkMatch/literal             GET /v1/widgets57                             122 ns/op     0 B/op      0 allocs/op
//	BenchmarkMatch/one-var             GET /v1/widgets57/w-123                       288 ns/op    16 B/op      1 allocs/op
//	BenchmarkMatch/two-vars            GET /v1/widgets57/w-123/parts/p-9             268 ns/op    32 B/op      1 allocs/op
//	BenchmarkMatch/verb                POST /v1/widgets57/w-123/parts/p-9:move       263 ns/op    16 B/op      1 allocs/op
//	BenchmarkMatch/deep                GET /v1/projects/p1/locations/us/widgets57/w-123  284 ns/op    16 B/op      1 allocs/op
//	BenchmarkMatch/double-star         GET /v1/widgets57/w-123/files/a/b/c.txt       276 ns/op    32 B/op      1 allocs/op
//	BenchmarkMatch/escaped             GET /v1/widgets57/w%2F1/parts/caf%C3%A9       519 ns/op    37 B/op      2 allocs/op
//	BenchmarkMatch/miss                GET /v2/widgets57/w-123 (404)                  75 ns/op     0 B/op      0 allocs/op
//	BenchmarkMatch/miss-deep           GET /v1/widgets57/w-123/parts/p-9/x/y (404)   220 ns/op     0 B/op      0 allocs/op
//	BenchmarkMatch/method-not-allowed  PUT /v1/widgets57/w-123 (405)                 102 ns/op     0 B/op      0 allocs/op
//	BenchmarkMatchParallel             Holder.Load + two-vars hit, 2 goroutines      230 ns/op    32 B/op      1 allocs/op
//	BenchmarkAllowed                   /v1/widgets57/w-123                           182 ns/op    64 B/op      1 allocs/op
//	BenchmarkParseTemplate             /v1/{name=projects/*/locations/*/widgets/*}:move  1.3 µs/op  640 B/op  11 allocs/op
//	BenchmarkNewTable10000             10,000 routes (templates parsed beforehand)    12 ms/op   2.6 MB/op  20k allocs/op
//
// Parsing the 10,000 templates adds about 13 ms, so a full rebuild stays
// far under a second. A hit allocates only Vars (none without variables)
// plus each value that needed decoding; values needing none are substrings
// of the path.
package router
