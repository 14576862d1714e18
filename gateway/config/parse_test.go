package config

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config/yamlcheck"
)

// fourProblems has an unknown key, a wrong type, a bad duration and a bad
// enum: Parse reports all four at once, in line order.
const fourProblems = `listen: 127.0.0.1:8080
upstreams:
  - name: library
    timout: 5s
    static: ["127.0.0.1:50051"]
    balancer: random
    timeout: 10 seconds
max_body_bytes: lots
`

var fourProblemLines = []string{
	"line 4: upstreams[0].timout: unknown key; did you mean timeout?",
	`line 6: upstreams[0].balancer: "random" is not round_robin, pick_first or least_request`,
	`line 7: upstreams[0].timeout: "10 seconds" is not a duration (e.g. 500ms, 10s, 1m)`,
	`line 8: max_body_bytes: "lots" is not a number`,
}

func TestParseReportsEveryProblemWithItsLine(t *testing.T) {
	_, err := Parse([]byte(fourProblems))
	if err == nil {
		t.Fatal("accepted")
	}
	if got, want := err.Error(), strings.Join(fourProblemLines, "\n"); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{"not found in type", "cannot unmarshal", "!!str"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("the YAML library's wording %q leaked: %v", bad, err)
		}
	}
}

func TestParseProblems(t *testing.T) {
	const up = "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"suggestion", up + "    balancr: pick_first\n", "line 4: upstreams[0].balancr: unknown key; did you mean balancer?"},
		{"suggestion at the top", "listn: 127.0.0.1:1\n" + up, "line 1: listn: unknown key; did you mean listen?"},
		{"suggestion in an inline struct", up + "    policies: {retyr: {attempts: 2}}\n", "line 4: upstreams[0].policies.retyr: unknown key; did you mean retry?"},
		{"no suggestion when nothing is near", up + "    colour: blue\n", "line 4: upstreams[0].colour: unknown key"},
		{"negative duration", up + "    timeout: -5s\n", `line 4: upstreams[0].timeout: "-5s" is negative: a duration must be positive`},
		{"duration of the wrong shape", up + "    timeout: [1s]\n", "line 4: upstreams[0].timeout: must be a duration (e.g. 500ms, 10s, 1m), not a list"},
		{"not a bool", up + "    strict: maybe\n", `line 4: upstreams[0].strict: "maybe" is not true or false`},
		{"not a whole number", up + "    streams: {max_per_client: 1.5}\n", "line 4: upstreams[0].streams.max_per_client: 1.5 is not a whole number"},
		{"negative unsigned", up + "    policies: {breaker: {failures: -1}}\n", "line 4: upstreams[0].policies.breaker.failures: -1 must not be negative"},
		{"quoted number", "max_body_bytes: \"12\"\n" + up, `line 1: max_body_bytes: "12" is not a number`},
		{"list for a map", "log: [info]\n" + up, "line 1: log: must be a map of keys, not a list"},
		{"scalar for a list", "upstreams:\n  - name: a\n    static: \"127.0.0.1:1\"\n", `line 3: upstreams[0].static: must be a list, not "127.0.0.1:1"`},
		{"map for a scalar", "listen: {host: x}\n" + up, "line 1: listen: must be a single value, not a map"},
		{"key set twice", up + "    strict: true\n    strict: false\n", "line 5: upstreams[0].strict: set twice (first on line 4)"},
		{"map value", up + "    policies: {fallback: {headers: {X-A: [1]}}}\n", "line 4: upstreams[0].policies.fallback.headers.X-A: must be a single value, not a list"},
		{"not a map at all", "- a\n- b\n", "line 1: the config must be a map of keys, not a list"},
		{"syntax", "upstreams: [\n", "line 1: not valid YAML: did not find expected node content"},
		{"comments only", "# nothing\n", "config: empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

// A refused value is dropped before Validate runs: Validate says nothing
// more about it, and what it says of the rest keeps its line.
func TestParseDropsRefusedValuesBeforeValidate(t *testing.T) {
	_, err := Parse([]byte("log: {level: [x], format: loud}\nupstreams:\n  - name: a\n    static: 1s\n"))
	want := "line 1: log.level: must be a single value, not a list\n" +
		`line 1: log.format: "loud" is not json or console` + "\n" +
		`line 4: upstreams[0].static: must be a list, not "1s"`
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
}

// Validate's errors keep their message and wrap the original: only the
// line is added in front, in place of "config: ".
func TestParseLocatesValidateErrors(t *testing.T) {
	_, err := Parse([]byte("\n\nlog:\n  level: loud\nupstreams: [{name: a, static: [\"127.0.0.1:1\"]}]\n"))
	if err == nil || err.Error() != `line 4: log.level: "loud" is not one of debug, info, warn, error` {
		t.Fatalf("error %v", err)
	}
	var le *yamlcheck.LineError
	if !errors.As(err, &le) || le.Line != 4 || errors.Unwrap(le).Error() != `config: log.level: "loud" is not one of debug, info, warn, error` {
		t.Fatalf("not a located Validate error: %#v", le)
	}
	// A key the file does not hold gets the line of the nearest one that it does.
	_, err = Parse([]byte("upstreams:\n  - name: a\n    consul: {tag: x}\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3: upstreams[0].consul.service: required") {
		t.Fatalf("error %v", err)
	}
	// A problem with no key in the file has no line.
	_, err = Parse([]byte("listen: 127.0.0.1:8080\n"))
	if err == nil || err.Error() != "config: upstreams: at least one upstream is required (or consul.auto_expose)" {
		t.Fatalf("error %v", err)
	}
}

// A Config built in code has no lines: Validate says "config: key: ...".
func TestValidateWithoutAFile(t *testing.T) {
	c := &Config{Upstreams: []Upstream{{Name: "a", Static: []string{"127.0.0.1:1"}}}}
	c.ApplyDefaults()
	c.Upstreams[0].Balancer = "random"
	err := c.Validate()
	if err == nil || err.Error() != `config: upstreams[0].balancer: "random" is not round_robin, pick_first or least_request` {
		t.Fatalf("error %v", err)
	}
}

func TestParseFollowsAnchorsAndMergeKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
defaults: &defaults
  timeout: 5s
upstreams:
  - <<: *defaults
    name: a
    static: ["127.0.0.1:1"]
`))
	if err == nil || !strings.Contains(err.Error(), "line 2: defaults: unknown key") {
		t.Fatalf("a key outside the schema: %v, %+v", err, cfg)
	}
	cfg, err = Parse([]byte(`
upstreams:
  - &a
    name: a
    static: ["127.0.0.1:1"]
    timeout: 5s
  - <<: *a
    name: b
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstreams[1].Name != "b" || cfg.Upstreams[1].Timeout != cfg.Upstreams[0].Timeout {
		t.Fatalf("merge key not followed: %+v", cfg.Upstreams)
	}
}

// Validation builds no client and starts nothing: Redis and an ext_authz
// gRPC service at addresses nothing listens on are only checked.
func TestParseDialsNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 20 {
		_, err := Parse([]byte(libraryConfig("127.0.0.1:1", "") +
			"redis: {addr: 127.0.0.1:1}\next_authz: {grpc: {addr: 127.0.0.1:1}}\npolicies: {ext_authz: true, rate_limits: [{rate: 1, per: 1s, shared: true}]}\n"))
		if err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines before, %d after", before, after)
	}
}
