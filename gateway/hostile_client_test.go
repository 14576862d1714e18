package gateway_test

import (
	"testing"
)

// TestCanonicalPathSpellings: spellings of a path that differ only by
// escaping unreserved characters reach the same route with the same path
// variables, the ones of the plain spelling.
func TestCanonicalPathSpellings(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	want := h.do(t, "GET", "/v1/shelves/2", "").expect(t, 200)
	jsonEq(t, want.body, `{"name":"shelves/2","theme":"History","bookCount":"1","createTime":"2024-01-01T00:00:00Z"}`)
	for _, p := range []string{"/v1/%73helves/2", "/v1/shelves/%32", "/v1/%73%68%65%6C%76%65%73/%32"} {
		status, _, body := sendRaw(t, h.base, rawRequest("GET", p, ""))
		if status != 200 {
			t.Fatalf("%s: status %d: %s", p, status, body)
		}
		jsonEq(t, body, string(want.body))
	}
}

// TestGrpcTimeoutOverflow: a Grpc-Timeout longer than a Duration holds is
// refused with 400 and the maximum, not wrapped into a negative timeout
// that fails the call with 504 at once.
func TestGrpcTimeoutOverflow(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	r := h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "99999999H").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"Grpc-Timeout \"99999999H\": longer than the largest timeout, 2562047H (about 292 years)","details":[]}`)
	h.do(t, "GET", "/v1/shelves/2", "", "Grpc-Timeout", "2562047H").expect(t, 200)
}
