package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := Parse([]byte("upstreams:\n  - name: library\n    static: [\"127.0.0.1:50051\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upstreams[0]
	if cfg.Listen != "127.0.0.1:8080" || cfg.Admin != "127.0.0.1:9901" || cfg.MaxBodyBytes != 4<<20 ||
		time.Duration(u.Timeout) != 30*time.Second || u.Balancer != "round_robin" || !*u.DefaultRoutes ||
		!*u.JSON.EmitUnpopulated || time.Duration(cfg.Reflection.RefreshInterval) != 30*time.Second {
		t.Fatalf("defaults not applied: %+v %+v", cfg, u)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key names its line", "listen: 127.0.0.1:8080\nupstream:\n  - name: x\n", "line 2: upstream: unknown key; did you mean upstreams?"},
		{"unknown nested key", "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    timout: 1s\n", "line 4: upstreams[0].timout: unknown key; did you mean timeout?"},
		{"bad duration", "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    timeout: soon\n", `line 4: upstreams[0].timeout: "soon" is not a duration (e.g. 500ms, 10s, 1m)`},
		{"empty", "", "config: empty file"},
		{"no upstreams", "listen: 127.0.0.1:8080\n", "config: upstreams: at least one upstream is required"},
		{"bad name", "upstreams:\n  - name: Library!\n    static: [\"127.0.0.1:1\"]\n", `line 2: upstreams[0].name: "Library!" must be 1-64 lower-case letters`},
		{"duplicate name", "upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"]}\n  - {name: a, static: [\"127.0.0.1:2\"]}\n", `line 3: upstreams[1].name: "a" is used twice`},
		{"bad address", "upstreams:\n  - {name: a, static: [\"localhost\"]}\n", `line 2: upstreams[0].static: discovery: address "localhost": want host:port`},
		{"no source", "upstreams:\n  - {name: a}\n", "line 2: upstreams[0]: an endpoint source is required (static, consul, etcd or dns)"},
		{"bad balancer", "upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"], balancer: random}\n", `line 2: upstreams[0].balancer: "random" is not round_robin, pick_first or least_request`},
		{"forbidden header", "upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"], forward_headers: [X-Real-Ip]}\n", `line 2: upstreams[0].forward_headers: transcode: header "X-Real-Ip" cannot be forwarded`},
		{"admin on the public listener", "listen: 127.0.0.1:80\nadmin: 127.0.0.1:80\nupstreams:\n  - {name: a, static: [\"127.0.0.1:1\"]}\n", "line 2: admin: must differ from listen"},
		{"custom kind *", "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    rules:\n      - selector: a.B.C\n        custom: {kind: \"*\", path: /v1/x}\n", `line 5: upstreams[0].rules[0]: custom.kind "*" is not an HTTP method name: use letters, digits, '-' or '_' (such as PURGE); "*" would read as any method`},
		{"custom kind with a space", "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    rules:\n      - selector: a.B.C\n        custom: {kind: \"GET POST\", path: /v1/x}\n", `line 5: upstreams[0].rules[0]: custom.kind "GET POST" is not an HTTP method name: use letters, digits, '-' or '_' (such as PURGE); "*" would read as any method`},
		{"rule without pattern", "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    rules:\n      - selector: a.B.C\n        body: \"*\"\n", "line 5: upstreams[0].rules[0]: exactly one of get, put, post, delete, patch, custom is required (found 0)"},
		{"no upstreams", "consul: {address: 127.0.0.1:8500}\n", "config: upstreams: at least one upstream is required (or consul.auto_expose)"},
		{"consul without the consul key", "upstreams:\n  - {name: a, consul: {service: a}}\n", "line 2: upstreams[0].consul: needs the top-level consul: key"},
		{"consul without service", "consul: {}\nupstreams:\n  - {name: a, consul: {tag: x}}\n", "line 3: upstreams[0].consul.service: required"},
		{"static and consul", "consul: {}\nupstreams:\n  - {name: a, static: [\"127.0.0.1:1\"], consul: {service: a}}\n", "line 3: upstreams[0]: consul and static exclude each other: use one endpoint source"},
		{"bad consul address", "consul: {address: nowhere}\nupstreams:\n  - {name: a, consul: {service: a}}\n", `line 1: consul.address: "nowhere" is not host:port`},
		{"auto-expose without tag", "consul: {auto_expose: {}}\n", "line 1: consul.auto_expose.tag: required"},
		{"auto-expose template with a name", "consul: {auto_expose: {tag: t, upstream: {name: x}}}\n", "line 1: consul.auto_expose.upstream: name, static, consul, etcd and dns come from the service"},
		{"auto-expose template checked", "consul: {auto_expose: {tag: t, upstream: {balancer: random}}}\n", `line 1: consul.auto_expose.upstream.balancer: "random" is not`},
		{"may_overlap itself", "upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"], may_overlap: [b, a]}\n", `line 2: upstreams[0].may_overlap[1]: "a" must name another upstream`},
		{"may_overlap bad name", "upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"], may_overlap: [\"B!\"]}\n", `line 2: upstreams[0].may_overlap[0]: "B!" must name another upstream`},
		{"auto-expose bad path_prefix", "consul: {auto_expose: {tag: t, path_prefix: \"/svc/\"}}\n", `line 1: consul.auto_expose.path_prefix: "/svc/" must be literal path segments such as /services or /services/{service}`},
		{"auto-expose path_prefix variable", "consul: {auto_expose: {tag: t, path_prefix: \"/svc/{name}\"}}\n", `consul.auto_expose.path_prefix: "/svc/{name}" must be literal path segments`},
		{"rule without selector", "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    rules:\n      - get: /x\n", "line 5: upstreams[0].rules[0].selector: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseConfigConsulDefaults(t *testing.T) {
	cfg, err := Parse([]byte("consul: {auto_expose: {tag: refract}}\nupstreams:\n  - {name: a, consul: {service: books, tag: grpc}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, u := cfg.Consul, cfg.Upstreams[0].Consul
	if c.Address != "127.0.0.1:8500" || time.Duration(c.WaitTime) != time.Minute || !*u.PassingOnly ||
		u.SchemaMetaKey != "schema_hash" || c.AutoExpose.Upstream.Balancer != "round_robin" ||
		time.Duration(c.AutoExpose.Upstream.Timeout) != 30*time.Second {
		t.Fatalf("defaults not applied: %+v %+v %+v", c, u, c.AutoExpose.Upstream)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("log: {level: loud}\nupstreams:\n  - {name: a, static: [\"x\"], balancer: b}\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"log.level", "upstreams[0].static", "upstreams[0].balancer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("../../examples/*/*.yaml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no example configs found")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !os.IsNotExist(errUnwrapAll(err)) {
		t.Errorf("missing file error = %v", err)
	}
}

func errUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// Two listeners on port 0 get two distinct ports: not the same address.
func TestConfigAdminAndListenBothOnPortZero(t *testing.T) {
	if _, err := Parse([]byte("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstreams:\n  - {name: a, static: [\"127.0.0.1:1\"]}\n")); err != nil {
		t.Fatal(err)
	}
}

// The effective config (what GET /admin/config shows) names the defaults
// in force, not zeros standing for them.
func TestDefaultsAreWrittenOut(t *testing.T) {
	cfg, err := Parse([]byte(libraryConfig("127.0.0.1:1", "")))
	if err != nil {
		t.Fatal(err)
	}
	al, oa := cfg.AccessLog, cfg.OpenAPI
	if al.Enabled == nil || !*al.Enabled || al.Sample != 1 || al.QueueLines != 16384 {
		t.Errorf("access_log %+v", al)
	}
	if oa.Enabled == nil || !*oa.Enabled || oa.Path != "/openapi.json" || cfg.Tracing.Protocol != "grpc" {
		t.Errorf("openapi %+v, tracing.protocol %q", oa, cfg.Tracing.Protocol)
	}
	if cfg.Tracing.On() {
		t.Error("filling tracing defaults turned tracing on")
	}
}
