package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/configsource"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "refract.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	goodYAML := "upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"]}\n"
	good := writeConfig(t, goodYAML)
	version := configsource.Data{Bytes: []byte(goodYAML)}.Version()
	bad := writeConfig(t, "log: {level: loud}\nupstreams:\n  - {name: a, static: [\"x\"]}\n")
	for _, tc := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"validate", "-config", good}, 0, good + ": OK (1 upstream, version " + version + ")\n", ""},
		{[]string{"validate", "-config", bad}, 2, "", `line 1: log.level: "loud" is not one of debug, info, warn, error`},
		{[]string{"validate"}, 2, "", "refract validate: -config FILE is required"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code || out.String() != tc.out || !strings.Contains(errb.String(), tc.errOut) {
			t.Errorf("run(%v) = %d, %q, %q", tc.args, code, out.String(), errb.String())
		}
	}
	// Every problem, not the first one only.
	var out, errb bytes.Buffer
	run([]string{"validate", "-config", bad}, &out, &errb)
	if !strings.Contains(errb.String(), "upstreams[0].static") {
		t.Errorf("second problem missing: %s", errb.String())
	}
}

// An unknown key, a wrong type, a bad duration and a bad enum: one run
// reports all four, each with its line and key path, and exits 2.
func TestValidateReportsEveryProblemWithItsLine(t *testing.T) {
	p := writeConfig(t, `listen: 127.0.0.1:8080
upstreams:
  - name: library
    timout: 5s
    static: ["127.0.0.1:50051"]
    balancer: random
    timeout: 10 seconds
max_body_bytes: lots
`)
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "-config", p}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errb.String())
	}
	want := "refract validate: " + p + ": " +
		"line 4: upstreams[0].timout: unknown key; did you mean timeout?\n" +
		`line 6: upstreams[0].balancer: "random" is not round_robin, pick_first or least_request` + "\n" +
		`line 7: upstreams[0].timeout: "10 seconds" is not a duration (e.g. 500ms, 10s, 1m)` + "\n" +
		`line 8: max_body_bytes: "lots" is not a number` + "\n"
	if out.String() != "" || errb.String() != want {
		t.Fatalf("stdout %q\nstderr\n%s\nwant\n%s", out.String(), errb.String(), want)
	}
}

func TestRoutes(t *testing.T) {
	echo, err := examples.StartEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Stop()
	cfg := writeConfig(t, fmt.Sprintf(`
upstreams:
  - name: echo
    static: [%q]
    rules:
      - selector: echo.v1.EchoService.Echo
        get: /v1/echo/{message}
      - selector: echo.v1.EchoService.Missing
        get: /v1/missing
`, echo.Addr))
	var out, errb bytes.Buffer
	if code := run([]string{"routes", "-config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"METHOD  PATH",
		"GET     /v1/echo/{message}",
		"echo      echo.v1.EchoService.Echo",
		"not routed (echo): config rule echo.v1.EchoService.Missing: no such",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// An upstream that never answers: the routes known so far, exit 1,
	// and the dial error rather than only the deadline.
	dead := writeConfig(t, "upstreams:\n  - {name: dead, static: [\"127.0.0.1:1\"]}\n")
	out.Reset()
	errb.Reset()
	if code := run([]string{"routes", "-config", dead, "-wait", "2s"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), `upstreams without descriptors: [dead] (upstream "dead" has no descriptors yet: `) ||
		!strings.Contains(errb.String(), "dial tcp 127.0.0.1:1: connect: connection refused") {
		t.Errorf("dead upstream: exit %d, %q", code, errb.String())
	}
}
