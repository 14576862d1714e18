package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/rs/zerolog"
)

// running is a Server serving on free loopback ports, stopped when the
// test ends.
type running struct {
	srv           *server.Server
	admin, public string
}

func serve(t *testing.T, src configsource.Source) *running {
	t.Helper()
	listen, adminAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	return serveWith(t, src, func(c *config.Config) { c.Listen, c.Admin = listen, adminAddr })
}

// serveWith is serve with the config's listeners set by override.
func serveWith(t *testing.T, src configsource.Source, override func(*config.Config)) *running {
	t.Helper()
	nop := zerolog.Nop()
	srv, err := server.New(t.Context(), server.Options{Source: src, Logger: &nop, Override: override})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := srv.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return &running{srv: srv, admin: "http://" + srv.Addr("admin"), public: "http://" + srv.Addr("public")}
}

// answer is an HTTP answer: status, headers and the body as text and JSON.
type answer struct {
	code int
	hdr  http.Header
	body string
	js   map[string]any
}

// req sends method url with body and headers given as "Name: value".
func req(t *testing.T, method, url, body string, hdr ...string) answer {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, hdr: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.js)
	return a
}

func (a answer) expect(t *testing.T, code int) answer {
	t.Helper()
	if a.code != code {
		t.Fatalf("HTTP %d, want %d: %s", a.code, code, a.body)
	}
	return a
}

// status checks a google.rpc.Status body: its code and a part of its message.
func (a answer) status(t *testing.T, httpCode, grpcCode int, msg string) {
	t.Helper()
	a.expect(t, httpCode)
	if c, _ := a.js["code"].(float64); int(c) != grpcCode || !strings.Contains(fmt.Sprint(a.js["message"]), msg) {
		t.Fatalf("status %s, want code %d and a message with %q", a.body, grpcCode, msg)
	}
	if _, ok := a.js["details"].([]any); !ok {
		t.Fatalf("not a google.rpc.Status: %s", a.body)
	}
}

const write = "X-Refract-Admin: 1"

func version(b []byte) string { return configsource.Data{Bytes: b}.Version() }

func libraryBackend(t *testing.T) string {
	t.Helper()
	lib, err := examples.StartLibrary("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lib.Stop)
	return lib.Addr
}

// The config API over a file: GET with the version and defaults, a stale
// If-Match refused with 412, validation listing every error with its line
// and the diff, a merge patch that keeps the file's comments, a JSON PUT,
// an invalid PUT refused whole, the history, a rollback to the very bytes
// of the start, and the audit log in memory and in its file. The file is
// always whole: no temporary file is left beside it.
func TestConfigAPIFile(t *testing.T) {
	dir := t.TempDir()
	path, audit := filepath.Join(dir, "refract.yaml"), filepath.Join(dir, "audit.jsonl")
	orig := fmt.Sprintf(`# the gateway of the test
drain_period: 0s
admin_security: {audit_log: %q}
consumers:
  - name: app
    keys: [{value: api-key-s3cr3t}]
upstreams:
  - name: library   # the example backend
    static: [%q]
    timeout: 10s
`, audit, libraryBackend(t))
	if err := os.WriteFile(path, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	g := serve(t, &configsource.File{Path: path})
	v0 := version([]byte(orig))

	got := req(t, "GET", g.admin+"/admin/config", "").expect(t, 200)
	text, _ := got.js["yaml"].(string)
	if got.js["version"] != v0 || got.hdr.Get("ETag") != `"`+v0+`"` || got.js["source"] != "file:"+path ||
		!strings.Contains(text, `keys: [{value: "[redacted]"}]`) || strings.Contains(text, "s3cr3t") || !strings.Contains(text, "# the example backend") {
		t.Fatalf("GET /admin/config: %v %v %v, ETag %s", got.js["version"], got.js["source"], got.js["yaml"], got.hdr.Get("ETag"))
	}
	if cfg := got.js["config"].(map[string]any); cfg["max_body_bytes"] != float64(4<<20) || cfg["shutdown_timeout"] != "15s" ||
		cfg["limits"].(map[string]any)["max_url_bytes"] != float64(8<<10) || cfg["limits"].(map[string]any)["headers_with_underscores"] != "drop" {
		t.Fatalf("defaults not filled in: max_body_bytes %v, shutdown_timeout %v, limits %v", cfg["max_body_bytes"], cfg["shutdown_timeout"], cfg["limits"])
	}

	req(t, "PUT", g.admin+"/admin/config", orig+"log: {level: debug}\n", write, `If-Match: "000000000000"`).
		status(t, 412, 9, "but version")

	bad := "upstreams:\n  - name: library\n    static: [nohostport]\n    timeout: 10 seconds\n    balancer: fastest\nlisten: nope\n"
	val := req(t, "POST", g.admin+"/admin/config/validate", bad, write).expect(t, 200)
	want := `[{"line":3,"message":"discovery: address \"nohostport\": want host:port: address nohostport: missing port in address","path":"upstreams[0].static"},` +
		`{"line":4,"message":"\"10 seconds\" is not a duration (e.g. 500ms, 10s, 1m)","path":"upstreams[0].timeout"},` +
		`{"line":5,"message":"\"fastest\" is not round_robin, pick_first or least_request","path":"upstreams[0].balancer"},` +
		`{"line":6,"message":"\"nope\" is not host:port","path":"listen"}]`
	if errs, _ := json.Marshal(val.js["errors"]); val.js["valid"] != false || string(errs) != want {
		t.Fatalf("validate: valid %v, errors\n%s\nwant\n%s", val.js["valid"], errs, want)
	}
	val = req(t, "POST", g.admin+"/admin/config/validate", strings.Replace(orig, "timeout: 10s", "timeout: 3s", 1), write).expect(t, 200)
	if d, _ := json.Marshal(val.js["diff"]); val.js["valid"] != true || string(d) != `[{"from":"10s","op":"changed","path":"upstreams[library].timeout","to":"3s"}]` {
		t.Fatalf("validate diff: %s", val.body)
	}

	patched := req(t, "PATCH", g.admin+"/admin/config", `{"upstreams":{"library":{"timeout":"5s"}},"max_body_bytes":1048576}`, write,
		"Content-Type: application/merge-patch+json", `If-Match: "`+v0+`"`).expect(t, 200)
	file, _ := os.ReadFile(path)
	v1 := version(file)
	if patched.js["version"] != v1 || patched.js["previous"] != v0 || g.srv.ConfigStatus().Version != v1 {
		t.Fatalf("PATCH: %s; file version %s, running %s", patched.body, v1, g.srv.ConfigStatus().Version)
	}
	for _, s := range []string{"# the gateway of the test\n", "- name: library # the example backend\n", "timeout: 5s\n", "max_body_bytes: 1048576\n"} {
		if !strings.Contains(string(file), s) {
			t.Fatalf("patched file lacks %q:\n%s", s, file)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("the write changed the file's mode to %v", st.Mode().Perm())
	}
	if d, _ := json.Marshal(patched.js["diff"]); string(d) != `[{"from":4194304,"op":"changed","path":"max_body_bytes","to":1048576},`+
		`{"from":"10s","op":"changed","path":"upstreams[library].timeout","to":"5s"}]` {
		t.Fatalf("PATCH diff: %s", d)
	}

	req(t, "PUT", g.admin+"/admin/config", "upstreams: [{name: library, static: [x]}]\nlisten: nope\n", write).
		status(t, 400, 3, "the config is invalid (2 problems)")
	if now, _ := os.ReadFile(path); string(now) != string(file) {
		t.Fatal("an invalid PUT changed the file")
	}

	// The text of a GET, edited and sent back, placeholders and all: the
	// running secret is kept.
	text = req(t, "GET", g.admin+"/admin/config", "").js["yaml"].(string)
	req(t, "PUT", g.admin+"/admin/config", strings.Replace(text, "timeout: 5s", "timeout: 6s", 1), write).expect(t, 200)
	if file, _ = os.ReadFile(path); !strings.Contains(string(file), "{value: api-key-s3cr3t}") || !strings.Contains(string(file), "timeout: 6s") {
		t.Fatalf("a PUT of the redacted text lost the secret:\n%s", file)
	}
	req(t, "PUT", g.admin+"/admin/config", strings.Replace(text, "name: app", "name: app2\n    x: {value: \"[redacted]\"}", 1), write).
		status(t, 400, 3, `the config holds the placeholder "[redacted]" at consumers.0.x.value`)
	v1b := version(file)

	jsonCfg := fmt.Sprintf(`{"drain_period":"0s","admin_security":{"audit_log":%q},"upstreams":[{"name":"library","static":[%q],"timeout":"7s"}]}`,
		audit, strings.Split(strings.Split(orig, "static: [\"")[1], "\"")[0])
	put := req(t, "PUT", g.admin+"/admin/config", jsonCfg, write, "Content-Type: application/json", `If-Match: "`+v1b+`"`).expect(t, 200)
	file, _ = os.ReadFile(path)
	v2 := version(file)
	if put.js["version"] != v2 || !strings.Contains(string(file), "upstreams:\n  - name: library\n") || !strings.Contains(string(file), "timeout: 7s\n") {
		t.Fatalf("JSON PUT: %s; file:\n%s", put.body, file)
	}
	req(t, "GET", g.public+"/v1/shelves", "").expect(t, 200)

	hist := req(t, "GET", g.admin+"/admin/config/history", "").expect(t, 200)
	var versions []string
	for _, v := range hist.js["versions"].([]any) {
		e := v.(map[string]any)
		versions = append(versions, e["version"].(string)+" "+e["who"].(string))
		if _, leaked := e["yaml"]; leaked {
			t.Fatal("the history lists the config text (it may hold secrets)")
		}
	}
	if strings.Join(versions, ",") != v2+" local,"+v1b+" local,"+v1+" local,"+v0+" source" {
		t.Fatalf("history %v, want %s, %s, %s, %s", versions, v2, v1b, v1, v0)
	}

	rb := req(t, "POST", g.admin+"/admin/config/rollback", `{"version":"`+v0+`"}`, write).expect(t, 200)
	if file, _ = os.ReadFile(path); string(file) != orig || rb.js["version"] != v0 || g.srv.ConfigStatus().Version != v0 {
		t.Fatalf("rollback: %s; file:\n%s", rb.body, file)
	}
	req(t, "POST", g.admin+"/admin/config/rollback", `{"version":"ffffffffffff"}`, write).status(t, 404, 5, "no such version")

	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != ".refract.yaml.history.jsonl audit.jsonl refract.yaml" {
		t.Fatalf("files beside the config: %v", names)
	}

	au := req(t, "GET", g.admin+"/admin/audit", "").expect(t, 200)
	var actions []string
	for _, e := range au.js["entries"].([]any) {
		m := e.(map[string]any)
		actions = append(actions, fmt.Sprintf("%s %s→%s %s", m["action"], m["version_before"], m["version_after"], m["outcome"]))
		if m["who"] != "local" || !strings.HasPrefix(m["from"].(string), "127.0.0.1:") {
			t.Fatalf("audit entry without who or where: %v", m)
		}
	}
	wantActions := []string{"rollback to " + v0 + " " + v2 + "→" + v0 + " ok", "PUT /admin/config " + v1b + "→" + v2 + " ok",
		"PUT /admin/config " + v1 + "→" + v1b + " ok", "PATCH /admin/config " + v0 + "→" + v1 + " ok"}
	if strings.Join(actions, "\n") != strings.Join(wantActions, "\n") {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.Join(wantActions, "\n"))
	}
	lines, _ := os.ReadFile(audit)
	if n := strings.Count(string(lines), "\n"); n != 4 || !strings.Contains(string(lines), `{"path":"upstreams[library].timeout","op":"changed","from":"10s","to":"5s"}]`) {
		t.Fatalf("audit log file (%d lines):\n%s", n, lines)
	}
}
