package config

import (
	"fmt"
	"testing"
)

// libraryConfig is a config of one static upstream, library, at addr; extra
// adds keys to it. Its first line is empty, so an upstream key in extra
// starts on line 5.
func libraryConfig(addr string, extra string) string {
	return fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
%s`, addr, extra)
}

func TestPolicyConfigErrors(t *testing.T) {
	cases := map[string]string{
		"policies: {auth: [api_key]}":                                     "line 1: policies.auth: api_key needs consumers",
		"policies: {auth: [oauth]}":                                       `line 1: policies.auth: "oauth" is not api_key, jwt or none`,
		"policies: {ip: {allow: [300.1.1.1]}}":                            `line 1: policies.ip: policy: "300.1.1.1" is neither a CIDR (10.0.0.0/8) nor an IP address`,
		"policies: {rate_limits: [{rate: 1, per: 1s, shared: true}]}":     "line 1: policies.rate_limits[0].shared: shared limits need the redis key",
		"policies: {rate_limits: [{key: user, rate: 1, per: 1s}]}":        `line 1: policies.rate_limits[0]: policy: rate limit key "user" is not ip, consumer, subject or route`,
		"policies: {rate_limits: [{rate: 1, per: 1s, ipv6_prefix: 129}]}": "line 1: policies.rate_limits[0]: ipv6_prefix 129 is not a prefix length from 1 to 128 (default 64)",
		"consumers: [{name: a, keys: [{env: REFRACT_TEST_UNSET_KEY}]}]":   "line 1: consumers[0].keys[0]: environment variable REFRACT_TEST_UNSET_KEY is not set",
		// Failed authentications limited per client network.
		"policies: {auth_failures: {rate: 0, per: 1m}}":                "line 1: policies.auth_failures: rate and per must be positive (e.g. rate: 100, per: 1s), burst not negative",
		"policies: {auth_failures: {rate: 10, per: 1m, shared: true}}": "line 1: policies.auth_failures.shared: shared limits need the redis key",
		"policies: {auth_failures: {rate: 10, per: 1m, ipv6_prefix: 0}}\nproducts: [{name: p, upstreams: [library], hosts: [p.example], policies: {auth_failures: {rate: 1, per: 1s}}}]": "line 2: products[0].policies.auth_failures: failed authentications are counted per client across the gateway: set auth_failures under the top-level policies",
		"jwt: {algorithms: [HS256]}":                              "line 1: jwt: policy: jwt: algorithm HS256 needs an HMAC secret",
		"cors: {allowed_origins: ['*'], allow_credentials: true}": `line 1: cors: policy: cors: allow_credentials cannot be used with the origin "*"; list the origins`,
		"redis: {addr: '127.0.0.1:1', on_error: maybe}":           `line 1: redis.on_error: "maybe" is not open or closed`,
		// Security review: weak HMAC secrets, metadata keys that fail every call.
		"jwt: {algorithms: [HS256], hmac_secret: {value: x}}":                                       "line 1: jwt: policy: jwt: the HMAC secret has 1 bytes; HS256 needs at least 32 (RFC 7518 §3.2: a key as long as the hash), random",
		"jwt: {algorithms: [HS512], hmac_secret: {value: precedence-secret-0123456789-0123456789}}": "line 1: jwt: policy: jwt: the HMAC secret has 39 bytes; HS512 needs at least 64 (RFC 7518 §3.2: a key as long as the hash), random",
		"api_keys: {metadata_key: X-Consumer}":                                                      `line 1: api_keys.metadata_key: policy: "X-Consumer" is not a metadata key the gateway may set: use lower case letters, digits, '-', '_' or '.' (such as x-consumer), not a reserved or -bin key`,
		"api_keys: {metadata_key: x-consumer-bin}\nconsumers: [{name: a, keys: [{value: k}]}]":      `line 1: api_keys.metadata_key: policy: "x-consumer-bin" is not a metadata key the gateway may set: use lower case letters, digits, '-', '_' or '.' (such as x-consumer), not a reserved or -bin key`,
	}
	for global, want := range cases {
		_, err := Parse([]byte(global + "\n" + libraryConfig("127.0.0.1:1", "")))
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", global, err, want)
		}
	}
	_, err := Parse([]byte(libraryConfig("127.0.0.1:1", "    hide: ['[']\n    routes: [{policies: {}}]\n")))
	if err == nil || err.Error() != "line 5: upstreams[0].hide: policy: pattern \"[\": syntax error in pattern\n"+
		"line 6: upstreams[0].routes[0].match: required: match (a route such as \"GET /v1/shelves\", as /admin/routes lists it) or method (a method glob)" {
		t.Errorf("upstream keys: %v", err)
	}
}

// TestRouteSelectorErrors: A route entry whose selector can
// select no route whatever the upstream serves is refused at load.
func TestRouteSelectorErrors(t *testing.T) {
	for extra, want := range map[string]string{
		`    routes: [{match: "get /v1/shelves", policies: {}}]`:                                      `line 5: upstreams[0].routes[0].match: "get /v1/shelves" is not a route: write the HTTP method, one space and the path template as /admin/routes lists them ("GET /v1/{name=shelves/*}")`,
		`    routes: [{match: "GET v1/shelves", policies: {}}]`:                                       `line 5: upstreams[0].routes[0].match: "GET v1/shelves" is not a route: write the HTTP method, one space and the path template as /admin/routes lists them ("GET /v1/{name=shelves/*}")`,
		`    routes: [{match: "GET  /v1/shelves", policies: {}}]`:                                     `line 5: upstreams[0].routes[0].match: "GET  /v1/shelves" is not a route: write the HTTP method, one space and the path template as /admin/routes lists them ("GET /v1/{name=shelves/*}")`,
		"    path_prefix: /lib\n    routes: [{match: \"DELETE /v1/{name=shelves/*}\", policies: {}}]": `line 6: upstreams[0].routes[0].match: "DELETE /v1/{name=shelves/*}" selects no route: the upstream's routes are mounted under its path_prefix /lib`,
		`    routes: [{match: "GET /v1/shelves", method: "*.GetShelf", policies: {}}]`:                `line 5: upstreams[0].routes[0].method: match and method exclude each other`,
		`    routes: [{method: "GET /v1/shelves", policies: {}}]`:                                     `line 5: upstreams[0].routes[0].method: "GET /v1/shelves" is not a method glob (package.Service.Method)`,
		`    routes: [{method: "library.[", policies: {}}]`:                                           `line 5: upstreams[0].routes[0].method: policy: pattern "library.[": syntax error in pattern`,
	} {
		_, err := Parse([]byte(libraryConfig("127.0.0.1:1", extra+"\n")))
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", extra, err, want)
		}
	}
	for _, ok := range []string{
		`    routes: [{match: "GET /v1/{name=shelves/*}", policies: {}}, {match: "*.Delete*", policies: {}}, {method: "library.v1.LibraryService.GetBook", policies: {}}]`,
		"    path_prefix: /lib\n    routes: [{match: \"GET /lib/v1/shelves\", policies: {}}]",
	} {
		if _, err := Parse([]byte(libraryConfig("127.0.0.1:1", ok+"\n"))); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
