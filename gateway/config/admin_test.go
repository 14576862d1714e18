package config

import (
	"testing"
	"time"
)

func TestAdminSecurityConfigErrors(t *testing.T) {
	cases := map[string]string{
		"admin_security: {hosts: [\"admin.example:9901\"]}":                      `line 1: admin_security.hosts[0]: "admin.example:9901" is not a host name (no scheme, port or path; IP addresses need no entry)`,
		"admin_security: {hosts: [\"\"]}":                                        `line 1: admin_security.hosts[0]: "" is not a host name (no scheme, port or path; IP addresses need no entry)`,
		"admin_security: {tokens: [{sha256: abc}]}":                              "line 1: admin_security.tokens[0]: sha256 must be 64 hex digits",
		"admin_security: {tokens: [{}]}":                                         "line 1: admin_security.tokens[0]: exactly one of value, env, file, sha256 is required (found 0)",
		"admin_security: {tls: {cert: c.pem, client_ca: ca.pem}}":                "line 1: admin_security.tls: both cert and key are required (client_ca adds mutual TLS)",
		"admin_security: {pprof: yes-please}":                                    `line 1: admin_security.pprof: "yes-please" is not true or false`,
		"admin_security: {tokens: [{value: t, role: root}]}":                     `line 1: admin_security.tokens[0].role: "root" is not a role (viewer, operator or admin)`,
		"admin_security: {tokens: [{value: a, name: ci}, {value: b, name: ci}]}": `line 1: admin_security.tokens[1].name: "ci" is also the name of tokens[0]: the audit log could not tell them apart`,
		"admin_security: {cert_roles: {ops.example: superuser}}":                 `line 1: admin_security.cert_roles.ops.example: "superuser" is not a role (viewer, operator or admin)`,
		"admin_security: {release: {abort_margin: 5}}":                           "line 1: admin_security.release: abort_margin is a share from 0 to 1 (e.g. 0.05), window and min_requests not negative",
	}
	for global, want := range cases {
		_, err := Parse([]byte(global + "\n" + libraryConfig("127.0.0.1:1", "")))
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", global, err, want)
		}
	}
}

// Tokens without a name or role are named by their place and are admin;
// the release watch has its window and minimum.
func TestAdminSecurityDefaults(t *testing.T) {
	cfg, err := Parse([]byte("admin_security: {tokens: [{value: a}, {value: b, name: ci, role: viewer}]}\n" + libraryConfig("127.0.0.1:1", "")))
	if err != nil {
		t.Fatal(err)
	}
	tk, rel := cfg.AdminSecurity.Tokens, cfg.AdminSecurity.Release
	if tk[0].Name != "token-0" || tk[0].Role != "admin" || tk[1].Name != "ci" || tk[1].Role != "viewer" || tk[1].Value != "b" {
		t.Fatalf("tokens %+v", tk)
	}
	if rel.Window != Duration(time.Minute) || rel.MinRequests != 20 || rel.AbortMargin != 0 {
		t.Fatalf("release %+v", rel)
	}
}

func TestAdminOnLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9901": true, "[::1]:9901": true, "localhost:9901": true, "127.3.2.1:1": true, "off": true,
		"0.0.0.0:9901": false, ":9901": false, "10.0.0.5:9901": false, "[::]:9901": false, "admin.internal:9901": false,
	} {
		if got := (&Config{Admin: addr}).AdminOnLoopback(); got != want {
			t.Errorf("AdminOnLoopback(%s) = %v, want %v", addr, got, want)
		}
	}
}
