package gateway_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkTransform measures each transformation kind on a whole
// handler call (match, decode, upstream call, encode) next to the same
// route without it: the difference is the kind's cost per request.
func BenchmarkTransform(b *testing.B) {
	lib := startLibrary(b)
	tok := ""
	for _, bc := range []struct {
		name, global, route string
		status              int
		hdr                 []string
	}{
		{name: "none"},
		{name: "request-set-header", route: `request: {set: [{field: name, from: "header:X-Book"}]}`, hdr: []string{"X-Book", "shelves/1/books/1"}},
		{name: "request-set-const", route: `request: {set: [{field: name, from: "const:shelves/1/books/1"}]}`},
		{name: "request-remove", route: `request: {remove: [name]}`, status: 400}, // the backend refuses an empty name
		{name: "jwt", global: jwtGlobal, route: `response: {}`},
		{name: "jwt+request-set-claim", global: jwtGlobal, route: `request: {set: [{field: name, from: "claim:sub"}]}`},
		{name: "metadata-set", route: `request: {metadata: {set: {x-tenant: "header:X-Tenant"}, remove: [x-debug]}}`, hdr: []string{"X-Tenant", "acme"}},
		{name: "response-headers", route: `response: {headers: {set: {Cache-Control: no-store}, remove: [Grpc-Metadata-X-Served-By]}}`},
		{name: "response-omit", route: `response: {omit: [checksum, labels, tags]}`},
		{name: "response-rename", route: `response: {rename: {title: headline}}`},
		{name: "response-envelope", route: `response: {envelope: data}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			upstream := ""
			if bc.route != "" {
				auth := ""
				if bc.global != "" {
					auth = "          auth: [jwt]\n"
				}
				upstream = `
    routes:
      - method: library.v1.LibraryService.GetBook
        policies:
` + auth + "          transform: {" + bc.route + "}\n"
			}
			gw := benchGatewayConfig(b, bc.global+libraryConfig(lib.Addr, upstream))
			path := "/v1/shelves/1/books/1"
			if bc.name == "request-set-header" || bc.name == "request-set-const" || bc.name == "jwt+request-set-claim" {
				path = "/v1/shelves/1/books/2" // the transform names book 1
			}
			req := httptest.NewRequest("GET", path, nil)
			for i := 0; i+1 < len(bc.hdr); i += 2 {
				req.Header.Set(bc.hdr[i], bc.hdr[i+1])
			}
			if bc.global != "" {
				if tok == "" {
					tok = hsTokenB(b, "shelves/1/books/1")
				}
				req.Header.Set("Authorization", tok)
			}
			want := 200
			if bc.status != 0 {
				want = bc.status
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				gw.ServeHTTP(w, req)
				if w.Code != want {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkTransformError is an upstream error mapped to another status
// and rendered from a template, next to the default error body.
func BenchmarkTransformError(b *testing.B) {
	lib := startLibrary(b)
	for _, bc := range []struct{ name, route string }{
		{"default", ""},
		{"status+template", `
    routes:
      - method: library.v1.LibraryService.GetBook
        policies:
          transform: {errors: {status: {NOT_FOUND: 410}, body: '{"error":"${status}","message":"${message}"}'}}
`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			gw := benchGatewayConfig(b, libraryConfig(lib.Addr, bc.route))
			req := httptest.NewRequest("GET", "/v1/shelves/1/books/nope", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				gw.ServeHTTP(w, req)
				if w.Code != 404 && w.Code != 410 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// hsTokenB is hsToken for benchmarks.
func hsTokenB(tb testing.TB, sub string) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://id.test", "aud": "refract",
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testHMAC))
	if err != nil {
		tb.Fatal(err)
	}
	return "Bearer " + s
}
