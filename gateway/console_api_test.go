package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/telemetry"
	"google.golang.org/grpc"
)

// The API explorer's endpoints, as curl would use them: the live
// document points its calls at /admin/try, which serves them with the
// public handler; the admin token never reaches the backend, the API's
// own credentials do, and a state-changing call needs the admin header.
func TestConsoleExplorerAPI(t *testing.T) {
	rec := newRecorder()
	lib := startLibrary(t, grpc.UnaryInterceptor(rec.interceptor))
	h := startGateway(t, libraryConfig(lib.Addr, `
admin_security:
  tokens: [{value: explorer-admin-token}]
`))
	admin := []string{"Authorization", "Bearer explorer-admin-token"}

	code, _, body := adminDo(t, nil, "GET", h.admin+"/admin/openapi.json", admin...)
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
		Paths   map[string]any         `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); code != 200 || err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != "/admin/try" ||
		doc.Paths["/v1/shelves"] == nil {
		t.Fatalf("/admin/openapi.json: %d %v %.300s", code, err, body)
	}

	if code, _, body := adminDo(t, nil, "GET", h.admin+"/admin/try/v1/shelves/1"); code != 401 {
		t.Errorf("a call without the admin token: %d %s", code, body)
	}
	code, _, body = adminDo(t, nil, "GET", h.admin+"/admin/try/v1/shelves/1", append(admin, "X-Refract-Try-Authorization", "Bearer api-key-1")...)
	if code != 200 || !strings.Contains(body, `"name":"shelves/1"`) {
		t.Fatalf("GET through /admin/try: %d %s", code, body)
	}
	if md := rec.lastMD(); !slices.Equal(md.Get("authorization"), []string{"Bearer api-key-1"}) || len(md.Get("x-refract-try-authorization")) != 0 {
		t.Errorf("the backend saw authorization %v (want the API's own, never the admin token)", md.Get("authorization"))
	}
	code, _, body = adminDo(t, nil, "POST", h.admin+"/admin/try/v1/shelves", admin...)
	if code != 403 || !strings.Contains(body, "X-Refract-Admin") {
		t.Errorf("a POST without the admin header: %d %s", code, body)
	}
	// Errors come back as the public listener would answer them.
	code, _, body = adminDo(t, nil, "GET", h.admin+"/admin/try/v1/shelves/404", admin...)
	if code != 404 || !strings.Contains(body, `"code":5`) {
		t.Errorf("a NOT_FOUND through /admin/try: %d %s", code, body)
	}

	code, _, body = adminDo(t, nil, "GET", h.admin+"/admin/stats/history", admin...)
	var hist telemetry.HistoryView
	if err := json.Unmarshal([]byte(body), &hist); code != 200 || err != nil || hist.StepSeconds != 10 || hist.SpanSeconds != 900 {
		t.Errorf("/admin/stats/history: %d %v %.200s", code, err, body)
	}
}

// openapi.docs_path serves the documentation page on the public listener,
// with the console's CSP; without it, the path is the API's.
func TestPublicDocsPage(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "openapi: {docs_path: /docs}\n"))
	code, hdr, body := adminDo(t, nil, "GET", h.base+"/docs")
	if code != 200 || !strings.Contains(body, `<meta name="openapi" content="/openapi.json">`) ||
		!strings.Contains(body, `src="/docs/swagger-ui/swagger-ui-bundle.js"`) || !strings.Contains(hdr.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("/docs: %d %v %.400s", code, hdr, body)
	}
	for path, want := range map[string]int{"/docs/": 200, "/docs/docs.js": 200, "/docs/swagger-ui/swagger-ui-bundle.js": 200,
		"/docs/swagger-ui/LICENSE": 200, "/docs/console.js": 404, "/docs/../admin": 404} {
		if code, _, body := adminDo(t, nil, "GET", h.base+path); code != want {
			t.Errorf("GET %s: %d, want %d (%.100s)", path, code, want, body)
		}
	}
	if code, _, _ := adminDo(t, nil, "POST", h.base+"/docs"); code != 405 {
		t.Errorf("POST /docs: %d", code)
	}

	off := startGateway(t, libraryConfig(lib.Addr, ""))
	if code, _, _ := adminDo(t, nil, "GET", off.base+"/docs"); code != 404 {
		t.Errorf("/docs without docs_path: %d, want the API's own 404", code)
	}
}
