package config

import (
	"strings"
	"testing"
	"time"
)

func TestChecksConfig(t *testing.T) {
	c, err := Parse([]byte(`
checks:
  - name: risk
    http: {url: "http://127.0.0.1:1/check", upstream_headers: [X-Risk-Score]}
    timeout: 150ms
    failure_mode: open
  - {name: device, grpc: {addr: "127.0.0.1:2"}}
policies: {checks: [risk, device]}
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    routes:
      - {method: "library.v1.LibraryService.List*", policies: {checks: []}}
`))
	if err != nil {
		t.Fatal(err)
	}
	risk := c.Checks[0]
	if risk.Name != "risk" || risk.HTTP.URL != "http://127.0.0.1:1/check" || time.Duration(risk.Timeout) != 150*time.Millisecond || !risk.FailOpen() ||
		c.Checks[1].GRPC.Addr != "127.0.0.1:2" || c.Checks[1].FailOpen() {
		t.Fatalf("checks %+v", c.Checks)
	}
	if got := c.Upstreams[0].Routes[0].Policies.Checks; got == nil || len(got) != 0 {
		t.Fatalf("an empty checks list must stay set (it turns the checks off): %#v", got)
	}
}

func TestChecksConfigErrors(t *testing.T) {
	const up = "upstreams: [{name: library, static: [\"127.0.0.1:1\"], routes: [{method: \"*.Get*\", policies: {checks: [risk, risk]}}]}]\n"
	_, err := Parse([]byte(`
checks:
  - {name: risk, http: {url: "http://127.0.0.1:1"}}
  - {name: risk, grpc: {addr: "127.0.0.1:2"}}
  - {name: "no spaces", grpc: {addr: "127.0.0.1:2"}}
  - {name: both, grpc: {addr: "127.0.0.1:2"}, http: {url: "http://x"}}
  - {name: neither, timeout: 1s}
  - {name: mode, grpc: {addr: "127.0.0.1:2"}, failure_mode: maybe}
  - {name: typo, grpc: {addr: "127.0.0.1:2"}, timout: 1s}
policies: {checks: [risk, fraud]}
products: [{name: shop, hosts: [shop.example.com], upstreams: [library], policies: {checks: [ghost]}}]
consul: {address: "127.0.0.1:8500", auto_expose: {tag: grpc, upstream: {policies: {checks: [spectre]}}}}
` + up))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`checks[1].name: "risk" is declared twice`,
		`checks[2].name: checks: name "no spaces": use 1 to 64 letters, digits, '-' and '_'`,
		`checks[3]: http and grpc exclude each other`,
		`checks[4]: needs http: {url: …} or grpc: {addr: …}`,
		`checks[5]: failure_mode "maybe" is not open or closed`,
		`checks[6].timout`,
		`policies.checks: "fraud" is not a check declared under the top-level checks key`,
		`products[0].policies.checks: "ghost" is not a check declared`,
		`upstreams[0].routes[0].policies.checks: "risk" is listed twice`,
		`consul.auto_expose.upstream.policies.checks: "spectre" is not a check declared`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}
