package grpcproxy

import (
	"net/http"
	"strings"
)

// Protocol is the RPC protocol a request speaks, told by its method and
// Content-Type.
type Protocol uint8

const (
	// NotRPC is anything else: HTTP+JSON, an OpenAPI document, a
	// preflight.
	NotRPC Protocol = iota
	// GRPC is native gRPC (application/grpc, application/grpc+proto …).
	GRPC
	// GRPCWeb is gRPC-Web, binary (application/grpc-web[+proto]).
	GRPCWeb
	// GRPCWebText is gRPC-Web in base64 (application/grpc-web-text[+proto]).
	GRPCWebText
	// Connect is the Connect protocol: unary application/proto or
	// application/json with Connect-Protocol-Version, unary GET with
	// ?connect=v1, or streaming application/connect+proto|json.
	Connect
)

// String names the protocol as the documentation and logs do.
func (p Protocol) String() string {
	return [...]string{"http", "grpc", "grpc-web", "grpc-web-text", "connect"}[p]
}

// Classify tells the protocol of r. It reads two headers and, for GET,
// the query: cheap enough for every request.
func Classify(r *http.Request) Protocol {
	ct := r.Header.Get("Content-Type")
	if r.Method == http.MethodGet {
		// Connect's GET for side-effect-free unary methods carries the
		// message in the query: ?connect=v1&encoding=proto&message=…
		if ct == "" && strings.Contains(r.URL.RawQuery, "connect=v1") && r.URL.Query().Get("connect") == "v1" {
			return Connect
		}
		return NotRPC
	}
	ct = strings.ToLower(ct) // no copy when it has no upper case
	if r.Method != http.MethodPost || !strings.HasPrefix(ct, "application/") {
		return NotRPC
	}
	mt := ct[len("application/"):]
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	switch {
	case mt == "grpc" || strings.HasPrefix(mt, "grpc+"):
		return GRPC
	case mt == "grpc-web-text" || strings.HasPrefix(mt, "grpc-web-text+"):
		return GRPCWebText
	case mt == "grpc-web" || strings.HasPrefix(mt, "grpc-web+"):
		return GRPCWeb
	case strings.HasPrefix(mt, "connect+"):
		return Connect
	case (mt == "proto" || mt == "json") && r.Header.Get("Connect-Protocol-Version") != "":
		return Connect
	}
	return NotRPC
}

// IsReflection tells whether path is a method of gRPC server reflection
// (v1 or v1alpha).
func IsReflection(path string) bool {
	return strings.HasPrefix(path, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(path, "/grpc.reflection.v1alpha.ServerReflection/")
}
