package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/rs/zerolog"
)

// adminDo sends one request to the admin API with the given headers
// ("Host" sets the Host header) and reads the whole answer.
func adminDo(t *testing.T, c *http.Client, method, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// A DNS-rebinding page reaches the admin listener under its own name:
// refused, whatever the path. Loopback names, IP addresses and the names
// in admin_security.hosts are served.
func TestAdminRefusesRebindingHost(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "admin_security: {hosts: [Refract-Admin.internal], pprof: true}\n"))
	port := h.admin[strings.LastIndex(h.admin, ":")+1:]
	for _, path := range []string{"/admin/config", "/debug/pprof/heap", "/"} {
		code, _, body := adminDo(t, nil, "GET", h.admin+path, "Host", "rebind.evil.example:"+port)
		want := `{"code":7,"message":"admin API: Host \"rebind.evil.example:` + port + `\" is not allowed (a DNS-rebinding page would name its own host): ` +
			`use localhost or an IP address, or add \"rebind.evil.example\" to admin_security.hosts","details":[]}`
		if code != 403 || body != want {
			t.Errorf("GET %s with a foreign Host: %d %s", path, code, body)
		}
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST", "127.0.0.1:" + port, "127.9.9.9", "[::1]:" + port,
		"10.0.0.5:" + port, "refract-admin.internal:" + port, "Refract-Admin.Internal."} {
		if code, _, body := adminDo(t, nil, "GET", h.admin+"/admin/config", "Host", host); code != 200 {
			t.Errorf("GET /admin/config with Host %s: %d %s", host, code, body)
		}
	}
}

// State-changing requests from another site, or without X-Refract-Admin,
// are refused before they act; the same request from the admin's own
// origin, or from a tool that sends the header, goes through.
func TestAdminRefusesCrossSitePost(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	reloads := func() uint64 { return h.srv.ConfigStatus().ReloadsOK }
	crossSite := []struct {
		name string
		hdr  []string
		want string
	}{
		{"foreign Origin", []string{"Content-Type", "text/plain", "Origin", "https://evil.example", "X-Refract-Admin", "1"},
			`{"code":7,"message":"admin API: POST refused: Origin \"https://evil.example\" is not the admin listener's own (` + h.admin +
				`); the admin API accepts state-changing requests only from its own origin","details":[]}`},
		{"null Origin", []string{"Origin", "null", "X-Refract-Admin", "1"},
			`{"code":7,"message":"admin API: POST refused: Origin \"null\" is not the admin listener's own (` + h.admin +
				`); the admin API accepts state-changing requests only from its own origin","details":[]}`},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site", "X-Refract-Admin", "1"},
			`{"code":7,"message":"admin API: POST refused: the browser says it comes from another site (Sec-Fetch-Site: \"cross-site\"); ` +
				`the admin API accepts state-changing requests only from its own origin","details":[]}`},
		{"same-site fetch", []string{"Sec-Fetch-Site", "same-site", "Origin", h.admin, "X-Refract-Admin", "1"},
			`{"code":7,"message":"admin API: POST refused: the browser says it comes from another site (Sec-Fetch-Site: \"same-site\"); ` +
				`the admin API accepts state-changing requests only from its own origin","details":[]}`},
		{"no X-Refract-Admin", []string{"Content-Type", "text/plain"},
			`{"code":7,"message":"admin API: POST needs the header X-Refract-Admin: 1 (e.g. curl -H 'X-Refract-Admin: 1'), ` +
				`which shows it is not a cross-site form","details":[]}`},
	}
	for _, tc := range crossSite {
		for _, path := range []string{"/admin/reload", "/admin/descriptors/library"} {
			code, _, body := adminDo(t, nil, "POST", h.admin+path, tc.hdr...)
			if code != 403 || body != tc.want {
				t.Errorf("%s: POST %s: %d %s", tc.name, path, code, body)
			}
		}
	}
	if n := reloads(); n != 0 {
		t.Fatalf("a refused POST reloaded the config (%d reloads)", n)
	}
	for i, hdr := range [][]string{
		{"X-Refract-Admin", "1"},
		{"X-Refract-Admin", "1", "Origin", h.admin, "Sec-Fetch-Site", "same-origin"},
	} {
		if code, _, body := adminDo(t, nil, "POST", h.admin+"/admin/reload", hdr...); code != 200 || reloads() != uint64(i+1) {
			t.Fatalf("POST /admin/reload with %v: %d %s", hdr, code, body)
		}
	}
	// Reading stays as it was: a GET needs no header.
	if code, _, body := adminDo(t, nil, "GET", h.admin+"/admin/reload"); code != 200 {
		t.Fatalf("GET /admin/reload: %d %s", code, body)
	}
}

// With admin_security.tokens every admin request but the health checks
// and the dashboard's static files needs a bearer token; the digest is
// all the config holds.
func TestAdminTokens(t *testing.T) {
	const token = "tok-4f1c9a7e2b6d8035"
	digest := sha256.Sum256([]byte(token))
	t.Setenv("REFRACT_TEST_ADMIN_TOKEN", "tok-second-rotating")
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, fmt.Sprintf(
		"admin_security:\n  tokens: [{sha256: %s}, {env: REFRACT_TEST_ADMIN_TOKEN}]\n", hex.EncodeToString(digest[:]))))

	const missing = `{"code":16,"message":"admin API: send Authorization: Bearer TOKEN with one of the tokens of admin_security.tokens","details":[]}`
	const wrong = `{"code":16,"message":"admin API: the bearer token is not one of admin_security.tokens","details":[]}`
	for _, tc := range []struct {
		method, path string
		hdr          []string
		code         int
		body, authn  string
	}{
		{"GET", "/admin/config", nil, 401, missing, `Bearer realm="refract-admin"`},
		{"GET", "/admin/stats", []string{"Authorization", "Basic dXNlcjpwdw=="}, 401, missing, `Bearer realm="refract-admin"`},
		{"GET", "/metrics", []string{"Authorization", "Bearer " + token + "x"}, 401, wrong, `Bearer realm="refract-admin", error="invalid_token"`},
		{"POST", "/admin/reload", []string{"X-Refract-Admin", "1"}, 401, missing, `Bearer realm="refract-admin"`},
		{"GET", "/admin/config", []string{"Authorization", "Bearer " + token}, 200, "", ""},
		{"GET", "/admin/config", []string{"Authorization", "bearer tok-second-rotating"}, 200, "", ""},
		{"POST", "/admin/reload", []string{"Authorization", "Bearer " + token, "X-Refract-Admin", "1"}, 200, "", ""},
		{"GET", "/healthz", nil, 200, "", ""},
		{"GET", "/readyz", nil, 200, "", ""},
		{"GET", "/", nil, 200, "", ""},
		{"GET", "/dashboard/dashboard.js", nil, 200, "", ""},
	} {
		code, hdr, body := adminDo(t, nil, tc.method, h.admin+tc.path, tc.hdr...)
		if code != tc.code || (tc.body != "" && body != tc.body) || hdr.Get("WWW-Authenticate") != tc.authn {
			t.Errorf("%s %s %v: %d %q %s", tc.method, tc.path, tc.hdr, code, hdr.Get("WWW-Authenticate"), body)
		}
	}
	_, _, cfg := adminDo(t, nil, "GET", h.admin+"/admin/config", "Authorization", "Bearer "+token)
	if strings.Contains(cfg, hex.EncodeToString(digest[:])) || !strings.Contains(cfg, `"tokens"`) {
		t.Errorf("/admin/config shows the token's digest, or no tokens: %s", cfg)
	}
}

// With admin_security.tls.client_ca the admin listener serves TLS and
// wants a client certificate from that CA: without one the API refuses
// all but the health checks; one from another CA fails the handshake.
func TestAdminMTLS(t *testing.T) {
	pki := newTestPKI(t)
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, fmt.Sprintf("admin_security:\n  tls: {cert: %s, key: %s, client_ca: %s}\n",
		pki.serverCert, pki.serverKey, pki.caFile)))
	base := "https://" + h.srv.Addr("admin")
	client := func(certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pki.pool, ServerName: "library.internal", Certificates: certs}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	withCert, noCert := client(pki.clientPair), client()
	if code, _, body := adminDo(t, withCert, "GET", base+"/admin/config"); code != 200 || !strings.Contains(body, `"upstreams"`) {
		t.Fatalf("with a client certificate: %d %s", code, body)
	}
	if code, _, body := adminDo(t, withCert, "POST", base+"/admin/reload", "X-Refract-Admin", "1"); code != 200 {
		t.Fatalf("POST with a client certificate: %d %s", code, body)
	}
	code, _, body := adminDo(t, noCert, "GET", base+"/admin/config")
	if want := `{"code":7,"message":"admin API: a client certificate signed by admin_security.tls.client_ca is required","details":[]}`; code != 403 || body != want {
		t.Fatalf("without a client certificate: %d %s", code, body)
	}
	if code, _, body := adminDo(t, noCert, "GET", base+"/readyz"); code != 200 {
		t.Fatalf("/readyz without a client certificate: %d %s", code, body)
	}
	other := newTestPKI(t)
	if _, err := client(other.clientPair).Get(base + "/healthz"); err == nil {
		t.Fatal("a client certificate of another CA was accepted")
	}
	if resp, err := http.Get("http://" + h.srv.Addr("admin") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("the admin listener answered plain HTTP")
		}
	}
}

// pprof is off unless admin_security.pprof turns it on.
func TestAdminPprofOptIn(t *testing.T) {
	lib := startLibrary(t)
	off := startGateway(t, libraryConfig(lib.Addr, ""))
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1"} {
		if code, _ := get(t, off.admin+p); code != 404 {
			t.Errorf("pprof off: %s answered %d", p, code)
		}
	}
	on := startGateway(t, libraryConfig(lib.Addr, "admin_security: {pprof: true}\n"))
	if code, body := get(t, on.admin+"/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile:") {
		t.Errorf("pprof on: heap %d %.200s", code, body)
	}
}

// The dashboard's files carry a CSP that lets nothing else load and no
// page frame them.
func TestDashboardCSP(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	for _, p := range []string{"/", "/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css"} {
		code, hdr, _ := adminDo(t, nil, "GET", h.admin+p)
		if got := hdr.Get("Content-Security-Policy"); code != 200 ||
			got != "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'" {
			t.Errorf("%s: %d CSP %q", p, code, got)
		}
	}
}

// syncBuffer is a log sink tests read while the gateway writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An admin listener beyond loopback without tokens or mutual TLS is
// warned about at start and at every reload; with a token it is not.
func TestAdminBeyondLoopbackWarns(t *testing.T) {
	lib := startLibrary(t)
	const warning = "admin API without authentication: it serves loopback clients only"
	onAllInterfaces := func(o *server.Options) {
		prev := o.Override
		o.Override = func(c *config.Config) { prev(c); c.Admin = "0.0.0.0:0" }
	}
	for _, tc := range []struct {
		extra string
		warns int
	}{
		{"", 2},
		{"admin_security: {tokens: [{value: tok-4f1c9a7e2b6d8035}]}\n", 0},
	} {
		var logs syncBuffer
		h := serveGatewayLogging(t, libraryConfig(lib.Addr, tc.extra), zerolog.New(&logs).Level(zerolog.WarnLevel), onAllInterfaces)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.srv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if n := strings.Count(logs.String(), warning); n != tc.warns {
			t.Errorf("config %q: %d warnings, want %d:\n%s", tc.extra, n, tc.warns, logs.String())
		}
	}
}
