package gateway_test

import (
	"regexp"
	"testing"
)

// TestAuthFailuresLimitKeyGuessing: Failed
// authentications are limited per client network: each 401 spends a
// token, and once they are spent the client gets 429 with Retry-After
// before any credential is checked — even the right key — while another
// client is unaffected.
func TestAuthFailuresLimitKeyGuessing(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, `
trusted_proxies: [127.0.0.1/32]
consumers:
  - name: mobile
    keys: [{value: mobile-key-1}]
policies:
  auth: [api_key]
  auth_failures: {rate: 2, per: 1m, burst: 2}
`+libraryConfig(lib.Addr, ""))
	from := func(ip, key string) []string { return []string{"X-Forwarded-For", ip, "X-Api-Key", key} }
	h.do(t, "GET", "/v1/shelves", "", from("192.0.2.7", "mobile-key-1")...).expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "", from("192.0.2.7", "guess-1")...).expect(t, 401)
	h.do(t, "GET", "/v1/shelves", "", from("192.0.2.7", "guess-2")...).expect(t, 401)
	blocked := regexp.MustCompile(`^\{"code":8,"message":"too many failed authentications from this client network \(policies.auth_failures: 2 per 1m0s\); no credential is checked until you retry after (\d+)s","details":\[\]\}$`)
	for _, key := range []string{"guess-3", "mobile-key-1"} {
		r := h.do(t, "GET", "/v1/shelves", "", from("192.0.2.7", key)...).expect(t, 429)
		m := blocked.FindSubmatch(r.body)
		if m == nil || r.header.Get("Retry-After") != string(m[1]) || len(m[1]) != 2 || string(m[1]) > "30" {
			t.Fatalf("%s: Retry-After %q, body %s", key, r.header.Get("Retry-After"), r.body)
		}
	}
	h.do(t, "GET", "/v1/shelves", "", from("192.0.2.8", "mobile-key-1")...).expect(t, 200)
	h.do(t, "GET", "/v1/shelves", "", from("192.0.2.8", "guess-1")...).expect(t, 401)
}
