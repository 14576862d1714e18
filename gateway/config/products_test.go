package config

import (
	"strings"
	"testing"
)

func TestProductConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`
products: [{name: p, upstreams: [library]}]
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, "products[0]: needs listen (its own port) or hosts"},
		{`
products: [{name: p, hosts: [a], upstreams: [library]}, {name: q, hosts: [a], upstreams: [nope]}]
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, `products[1].hosts: "a" is already product p's`},
		{`
products: [{name: p, hosts: [a], upstreams: [nope]}]
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, `products[0].upstreams: "nope" is not a configured upstream`},
		{`
upstreams: [{name: library, static: ["127.0.0.1:1"], path_prefix: "/orders/"}]
`, `upstreams[0].path_prefix: "/orders/" must be literal path segments`},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v\nwant an error containing %q", err, tc.want)
		}
	}
}
