package policy

import (
	"testing"
	"time"
)

func TestCORS(t *testing.T) {
	p := must(CORS(CORSOptions{
		AllowedOrigins:   []string{"https://app.example.com", "https://*.example.org"},
		AllowedMethods:   []string{"GET", "POST"},
		AllowedHeaders:   []string{"Content-Type", "Authorization"},
		ExposedHeaders:   []string{"X-Request-Id"},
		AllowCredentials: true,
		MaxAge:           10 * time.Minute,
	}))
	final := &ok{}
	h := p(final)

	t.Run("preflight answered, never reaches the route", func(t *testing.T) {
		w := serve(h, "OPTIONS", "/v1/shelves", "192.0.2.1:1", "Origin", "https://a.example.org",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
		if w.Code != 204 || final.calls != 0 {
			t.Fatalf("status %d, calls %d", w.Code, final.calls)
		}
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":      "https://a.example.org",
			"Access-Control-Allow-Methods":     "POST",
			"Access-Control-Allow-Headers":     "authorization,content-type",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Max-Age":           "600",
		} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("preflight for a method not allowed", func(t *testing.T) {
		w := serve(h, "OPTIONS", "/v1/shelves", "192.0.2.1:1", "Origin", "https://app.example.com", "Access-Control-Request-Method", "DELETE")
		if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("status %d, allow-origin %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("actual request from an allowed origin", func(t *testing.T) {
		w := serve(h, "GET", "/v1/shelves", "192.0.2.1:1", "Origin", "https://app.example.com")
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			w.Header().Get("Access-Control-Expose-Headers") != "X-Request-Id" {
			t.Fatalf("status %d headers %v", w.Code, w.Header())
		}
	})
	t.Run("other origins get no CORS headers", func(t *testing.T) {
		for _, o := range []string{"https://evil.example.com", "https://example.org", "http://app.example.com"} {
			w := serve(h, "GET", "/v1/shelves", "192.0.2.1:1", "Origin", o)
			if w.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s allowed", o)
			}
		}
	})
	for _, c := range []struct {
		o    CORSOptions
		want string
	}{
		{CORSOptions{}, "policy: cors: allowed_origins is required"},
		{CORSOptions{AllowedOrigins: []string{"*"}, AllowCredentials: true}, `policy: cors: allow_credentials cannot be used with the origin "*"; list the origins`},
		{CORSOptions{AllowedOrigins: []string{"app.example.com"}}, `policy: cors: origin "app.example.com" must start with http:// or https://`},
	} {
		if _, err := CORS(c.o); err == nil || err.Error() != c.want {
			t.Errorf("CORS(%+v) = %v, want %s", c.o, err, c.want)
		}
	}
}

// A preflight asking for a header outside allowed_headers gets no CORS
// headers (the browser then blocks the call), and never reaches the route;
// an allowed one on a wildcard subdomain is answered in full.
func TestCORSPreflightHeaders(t *testing.T) {
	final := &ok{}
	h := must(CORS(CORSOptions{AllowedOrigins: []string{"https://*.example.org"}, AllowedHeaders: []string{"X-Api-Key"}}))(final)
	w := serve(h, "OPTIONS", "/v1/shelves", "192.0.2.1:1", "Origin", "https://a.example.org",
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-secret")
	if w.Code != 204 || final.calls != 0 {
		t.Fatalf("status %d, calls %d", w.Code, final.calls)
	}
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods"} {
		if got := w.Header().Get(k); got != "" {
			t.Fatalf("a disallowed header got %s: %q", k, got)
		}
	}
	w = serve(h, "OPTIONS", "/v1/shelves", "192.0.2.1:1", "Origin", "https://deep.a.example.org",
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-api-key")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "https://deep.a.example.org" ||
		w.Header().Get("Access-Control-Allow-Headers") != "x-api-key" || w.Header().Get("Access-Control-Allow-Methods") != "GET" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("allowed preflight: %d %v", w.Code, w.Header())
	}
}
