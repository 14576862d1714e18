package policy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestGuardCanonicalPath: every stage after the guard sees
// the path as the router matches it, escapes of unreserved characters
// decoded and significant ones kept.
func TestGuardCanonicalPath(t *testing.T) {
	var uri, raw string
	h := Guard(GuardOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uri, raw = r.URL.RequestURI(), r.RequestURI
	}))
	for in, want := range map[string]string{
		"/v1/shelves/2":              "/v1/shelves/2",
		"/v1/%73helves/%32":          "/v1/shelves/2",
		"/v1/%73helves/%32?q=%41":    "/v1/shelves/2?q=%41",
		"/v1/files/a%2Fb%7e%2D":      "/v1/files/a%2Fb~-",
		"/v1/files/%E2%82%AC%5f%41x": "/v1/files/%E2%82%AC_Ax",
	} {
		uri, raw = "", ""
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", in, nil))
		if uri != want || raw != want {
			t.Errorf("%s: later stages saw %q (RequestURI %q), want %q", in, uri, raw, want)
		}
	}
}
