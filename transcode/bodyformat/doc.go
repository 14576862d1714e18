// Package bodyformat adapts request and response bodies that are not JSON
// for routes that opt in: application/x-www-form-urlencoded and
// multipart/form-data requests (fields mapped as query parameters are,
// file parts into bytes or google.api.HttpBody fields), XML requests, and
// XML answers for clients whose Accept prefers them. Requests are turned
// into the JSON the transcoder already decodes, so every check of the JSON
// path (depth, strictness, update masks, validation) still applies; answers
// are rendered from the JSON the transcoder produced. Because browsers post
// forms cross-origin without a CORS preflight, form bodies pass a CSRF
// check first (on by default).
//
// It owns the conversions and their budgets (fields, part headers, XML
// depth); it does not read bodies off the network, route requests or
// decide which routes opt in.
package bodyformat
