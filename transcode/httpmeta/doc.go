// Package httpmeta is backend-controlled HTTP for HTTP+JSON responses: the
// status a backend asks for in its response metadata (x-http-code: 201),
// and the metadata keys an upstream's configuration maps to plain response
// headers (Location, Set-Cookie, Cache-Control, ETag …).
//
// It owns the rules and their checks; it does not decide which upstream
// uses which rules (configuration) nor write response bodies.
package httpmeta
