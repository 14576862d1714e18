package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/internal/testkit"
)

// Roles: without a token 401; a viewer reads (but not the source text)
// and cannot write; an operator reloads but cannot change the config; an
// admin changes it. Cross-site writes are refused whatever the token.
// Every change, the operator's reload included, is in the audit log with
// the token's name.
func TestAdminRoles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "refract.yaml")
	adminDigest := sha256.Sum256([]byte("admin-secret"))
	t.Setenv("TEST_OPERATOR_TOKEN", "operator-secret")
	cfg := fmt.Sprintf(`drain_period: 0s
admin_security:
  tokens:
    - {name: vera, role: viewer, value: viewer-secret}
    - {name: olga, role: operator, env: TEST_OPERATOR_TOKEN}
    - {name: adam, sha256: %s}   # no role: admin
upstreams:
  - name: library
    static: [%q]
`, hex.EncodeToString(adminDigest[:]), libraryBackend(t))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := serve(t, &configsource.File{Path: path})
	viewer, operator, admin := "Authorization: Bearer viewer-secret", "Authorization: Bearer operator-secret", "Authorization: Bearer admin-secret"
	patch := `{"log":{"level":"debug"}}`
	mp := "Content-Type: application/merge-patch+json"

	a := req(t, "GET", g.admin+"/admin/config", "")
	a.status(t, 401, 16, "send Authorization: Bearer TOKEN")
	if a.hdr.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	req(t, "GET", g.admin+"/admin/config", "", "Authorization: Bearer nope").status(t, 401, 16, "not one of admin_security.tokens")
	req(t, "GET", g.admin+"/healthz", "").expect(t, 200)

	if who := req(t, "GET", g.admin+"/admin/whoami", "", viewer).expect(t, 200); who.js["role"] != "viewer" || who.js["subject"] != "vera" || who.js["auth"] != "token" {
		t.Fatalf("whoami: %s", who.body)
	}
	if got := req(t, "GET", g.admin+"/admin/config", "", viewer).expect(t, 200); strings.Contains(got.body, "viewer-secret") ||
		!strings.Contains(got.js["yaml"].(string), `{name: vera, role: viewer, value: "[redacted]"}`) || got.js["version"] != version([]byte(cfg)) {
		t.Fatalf("a viewer's GET /admin/config: yaml %v, version %v", got.js["yaml"], got.js["version"])
	}
	req(t, "PATCH", g.admin+"/admin/config", patch, viewer, write, mp).status(t, 403, 7, "needs the role admin; vera has viewer")
	req(t, "POST", g.admin+"/admin/reload", "", viewer, write).status(t, 403, 7, "needs the role operator; vera has viewer")

	req(t, "POST", g.admin+"/admin/reload", "", operator, write).expect(t, 200)
	req(t, "PATCH", g.admin+"/admin/config", patch, operator, write, mp).status(t, 403, 7, "needs the role admin; olga has operator")
	req(t, "POST", g.admin+"/admin/config/rollback", `{"version":"x"}`, operator, write).status(t, 403, 7, "needs the role admin")

	req(t, "PATCH", g.admin+"/admin/config", patch, admin, mp).status(t, 403, 7, "needs the header X-Refract-Admin: 1")
	req(t, "PATCH", g.admin+"/admin/config", patch, admin, write, mp, "Origin: https://evil.example").status(t, 403, 7, "is not the admin listener's own")
	req(t, "PATCH", g.admin+"/admin/config", patch, admin, write, mp, "Sec-Fetch-Site: cross-site").status(t, 403, 7, "comes from another site")
	done := req(t, "PATCH", g.admin+"/admin/config", patch, admin, write, mp).expect(t, 200)
	if file, _ := os.ReadFile(path); !strings.Contains(string(file), "level: debug") || done.js["version"] != version(file) {
		t.Fatalf("the admin's patch: %s\n%s", done.body, file)
	}

	au := req(t, "GET", g.admin+"/admin/audit", "", viewer).expect(t, 200)
	var got []string
	for _, e := range au.js["entries"].([]any) {
		m := e.(map[string]any)
		got = append(got, fmt.Sprintf("%s %s %s %s", m["who"], m["auth"], m["action"], m["outcome"]))
	}
	if want := "adam token PATCH /admin/config ok\nolga token POST /admin/reload ok"; strings.Join(got, "\n") != want {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}

// Without any token the admin API serves loopback clients only (read and
// write), even when it listens on every address.
func TestAdminWithoutTokensServesLoopbackOnly(t *testing.T) {
	var other net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			other = n.IP
			break
		}
	}
	if other == nil {
		t.Skip("no non-loopback IPv4 address on this machine to call from")
	}
	port := testkit.FreePort(t)
	src := &configsource.Static{Name: "test", Bytes: []byte(fmt.Sprintf("drain_period: 0s\nadmin: 0.0.0.0:%d\nupstreams: [{name: library, static: [%q]}]\n",
		port, libraryBackend(t)))}
	serveWith(t, src, func(c *config.Config) { c.Listen = testkit.FreeAddr(t) })
	remote := "http://" + net.JoinHostPort(other.String(), fmt.Sprint(port))
	req(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/admin/config", port), "").expect(t, 200)
	req(t, "POST", fmt.Sprintf("http://127.0.0.1:%d/admin/reload", port), "", write).expect(t, 200)
	req(t, "GET", remote+"/healthz", "").expect(t, 200)
	req(t, "GET", remote+"/admin/config", "").status(t, 403, 7, "only loopback clients are served")
	req(t, "POST", remote+"/admin/reload", "", write).status(t, 403, 7, "configure tokens")
}

// Two editors of a config in Consul KV, each through another instance,
// both working from the same version: one wins, the other is refused
// (412 when its instance already runs the winner's config, 409 when the
// check-and-set on the key's index catches it), and the key holds the
// winner's bytes. The history lives beside the key.
func TestConfigAPIConsulCheckAndSet(t *testing.T) {
	agent := consultest.Start(t)
	const key = "refract/test/config"
	orig := fmt.Sprintf("drain_period: 0s\nupstreams:\n  - name: library\n    static: [%q]\n", libraryBackend(t))
	kv := agent.Client().KV()
	if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(orig)}, nil); err != nil {
		t.Fatal(err)
	}
	open := func(id string) *running {
		src, err := configsource.OpenInstance("consul://"+agent.Addr+"/"+key, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return serve(t, src)
	}
	a, b := open("a"), open("b")
	v0 := version([]byte(orig))
	for _, g := range []*running{a, b} {
		if got := req(t, "GET", g.admin+"/admin/config", "").expect(t, 200); got.js["version"] != v0 || got.js["source"] != "consul:consul://"+agent.Addr+"/"+key {
			t.Fatalf("GET: %v %v", got.js["version"], got.js["source"])
		}
	}
	mp := "Content-Type: application/merge-patch+json"
	won := req(t, "PATCH", a.admin+"/admin/config", `{"upstreams":{"library":{"timeout":"4s"}}}`, write, mp, `If-Match: "`+v0+`"`).expect(t, 200)
	lost := req(t, "PATCH", b.admin+"/admin/config", `{"upstreams":{"library":{"timeout":"9s"}}}`, write, mp, `If-Match: "`+v0+`"`)
	if lost.code != 409 && lost.code != 412 {
		t.Fatalf("the second editor: HTTP %d %s, want 409 or 412", lost.code, lost.body)
	}
	t.Logf("the second editor was refused with HTTP %d: %s", lost.code, lost.js["message"])
	pair, _, err := kv.Get(key, nil)
	if err != nil || pair == nil || version(pair.Value) != won.js["version"] || !strings.Contains(string(pair.Value), "timeout: 4s") {
		t.Fatalf("the key holds %q (%v), want the winner's %v", pair.Value, err, won.js["version"])
	}
	testkit.Eventually(t, 20*time.Second, "both instances run the winner's config", func() bool {
		return a.srv.ConfigStatus().Version == won.js["version"] && b.srv.ConfigStatus().Version == won.js["version"]
	})
	hist := req(t, "GET", b.admin+"/admin/config/history", "").expect(t, 200)
	if n := len(hist.js["versions"].([]any)); n != 2 {
		t.Fatalf("history in consul: %d versions, want 2 (the start and the winner): %s", n, hist.body)
	}
	keys, _, _ := kv.Keys("refract-admin/history/"+key+"/", "", nil)
	if len(keys) != 2 {
		t.Fatalf("history keys %v", keys)
	}
}
