package config

import (
	"strings"
	"testing"
)

func TestExtAuthzConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`
policies: {ext_authz: true}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, "policies.ext_authz: needs the top-level ext_authz key"},
		// A product switching it on is held to the same rule.
		{`
products: [{name: shop, hosts: [shop.example.com], upstreams: [library], policies: {ext_authz: true}}]
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, "products[0].policies.ext_authz: needs the top-level ext_authz key"},
		{`
ext_authz: {http: {url: "ftp://x"}}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, `ext_authz: policy: ext_authz: "ftp://x" is not an http(s) URL`},
		{`
ext_authz: {grpc: {addr: "x"}, failure_mode: maybe}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, `ext_authz: failure_mode "maybe" is not open or closed`},
		{`
ext_authz: {grpc: {addr: "127.0.0.1:1", upstream_headers: [X-User-Bin]}}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, `ext_authz: policy: ext_authz: upstream header "X-User-Bin" cannot become metadata the gateway sets`},
		{`
ext_authz: {http: {url: "http://127.0.0.1:1", upstream_headers: ["X User"]}}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`, `ext_authz: policy: ext_authz: upstream header "X User" cannot become metadata`},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v\nwant an error containing %q", err, tc.want)
		}
	}
}
