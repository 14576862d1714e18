package gateway_test

import "testing"

// Requests for the OpenAPI document count under its path, not as
// unmatched requests; methods it does not serve share one label.
func TestOpenAPIRequestsCountUnderTheirPath(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	h.do(t, "GET", "/openapi.json", "").expect(t, 200)
	h.do(t, "GET", "/openapi.json", "").expect(t, 200)
	h.do(t, "DELETE", "/openapi.json", "").expect(t, 405)
	h.do(t, "GET", "/no/such/path", "").expect(t, 404)
	s := scrapeMetrics(t, h)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route=/openapi.json", "method=GET", "code=200"}, 2},
		{[]string{"route=/openapi.json", "method=OTHER", "code=405"}, 1},
		{[]string{"route=unmatched", "method=GET", "code=404"}, 1},
		{[]string{"route=unmatched", "method=DELETE", "code=405"}, 0},
	} {
		if got := s.value("refract_http_requests_total", c.labels...); got != c.want {
			t.Errorf("refract_http_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if n := s.value("refract_http_request_duration_seconds", "route=/openapi.json", "method=GET"); n != 2 {
		t.Errorf("the document's duration histogram has %v samples, want 2", n)
	}
}
