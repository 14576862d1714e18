package gateway_test

import (
	"fmt"
	"testing"
)

// TestRateLimitIPv6KeyedByNetwork: A per-IP limit keys an
// IPv6 client by its /64 by default, so rotating through the 2^64
// addresses of one network does not reset the bucket; ipv6_prefix: 128
// keys the whole address.
func TestRateLimitIPv6KeyedByNetwork(t *testing.T) {
	lib := startLibrary(t)
	for _, tc := range []struct {
		prefix     string
		sameNet    int // the status of a second address in the same /64
		otherNet   int
		sameAddrV4 int
	}{
		{"", 429, 200, 429},
		{", ipv6_prefix: 128", 200, 200, 429},
	} {
		h := startGateway(t, fmt.Sprintf(`
trusted_proxies: [127.0.0.1/32]
policies:
  rate_limits: [{key: ip, rate: 1, per: 1h%s}]
`, tc.prefix)+libraryConfig(lib.Addr, ""))
		xff := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		h.do(t, "GET", "/v1/shelves", "", xff("2001:db8:1:2::1")...).expect(t, 200)
		h.do(t, "GET", "/v1/shelves", "", xff("2001:db8:1:2:ffff::7")...).expect(t, tc.sameNet)
		h.do(t, "GET", "/v1/shelves", "", xff("2001:db8:1:3::1")...).expect(t, tc.otherNet)
		h.do(t, "GET", "/v1/shelves", "", xff("192.0.2.7")...).expect(t, 200)
		h.do(t, "GET", "/v1/shelves", "", xff("192.0.2.7")...).expect(t, tc.sameAddrV4)
	}
}
