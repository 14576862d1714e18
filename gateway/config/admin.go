package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// AdminSecurityConfig guards the admin listener (admin_security). The
// admin API always answers only Hosts it knows (loopback names, IP
// addresses and Hosts) and refuses state-changing requests sent
// cross-site or without the X-Refract-Admin header; Tokens and TLS add
// authentication. The zero value: no tokens, plain HTTP, no pprof.
type AdminSecurityConfig struct {
	// Hosts are the host names, besides localhost and IP addresses, that
	// requests to the admin API may name in their Host header (the name
	// a DNS record or proxy gives the admin listener); compared without
	// port and case. Any other name is refused: a DNS-rebinding page
	// names its own.
	Hosts []string `yaml:"hosts"`
	// Tokens, when set, are the bearer tokens the admin API accepts, any
	// of them, kept as SHA-256 digests (sha256: hex digest, or env, file,
	// value, hashed when loaded), each with a name and a role; every admin
	// request but GET /healthz, GET /readyz and the console's static
	// files then needs Authorization: Bearer TOKEN.
	Tokens []AdminToken `yaml:"tokens"`
	// CertRoles maps a verified client certificate's subject common name
	// to its role (viewer, operator, admin). Empty: every certificate that
	// chains to tls.client_ca is admin (as before roles existed); set: a
	// certificate whose name is not listed is viewer.
	CertRoles map[string]string `yaml:"cert_roles"`
	// AuditLog, when set, is a file every admin change is appended to, one
	// JSON object a line (who, when, from where, versions, diff); the
	// entries are also logged and kept in memory for GET /admin/audit.
	AuditLog string `yaml:"audit_log"`
	// Release is the gray release's automatic abort (Consul KV configs).
	Release ReleaseConfig `yaml:"release"`
	// TLS serves the admin listener over TLS; with client_ca, mutual TLS.
	TLS *AdminTLS `yaml:"tls"`
	// Pprof serves Go's profiles on /debug/pprof/ of the admin listener;
	// default false.
	Pprof bool `yaml:"pprof"`
}

// AdminToken is one admin bearer token: where its secret or digest is
// (value, env, file or sha256, exactly one), a name for the audit log
// (default "token-N", N its index) and a role: viewer (read), operator
// (also reload, refresh descriptors, approve schemas, drain) or admin
// (also change the config); default admin, what every token could do
// before roles existed.
type AdminToken struct {
	SecretConfig `yaml:",inline"`
	// Name is the token's name in the audit log; default "token-N", N its
	// index.
	Name string `yaml:"name"`
	// Role is what the token may do: viewer (read), operator (also reload,
	// refresh descriptors, approve schemas, drain) or admin (also change
	// the config); default admin.
	Role string `yaml:"role"`
}

// ReleaseConfig watches a gray release: when AbortMargin is set, an
// instance running the candidate aborts the release once the candidate's
// error rate (5xx share of requests over Window) exceeds the stable
// instances' by more than AbortMargin, with at least MinRequests on each
// side. Zero AbortMargin: no automatic abort.
type ReleaseConfig struct {
	// AbortMargin is a share, 0..1 (0.05: five points more 5xx).
	AbortMargin float64 `yaml:"abort_margin"`
	// Window is how far back the rates are compared; default 1m.
	Window Duration `yaml:"window"`
	// MinRequests on each side before the rates are compared; default 20.
	MinRequests int `yaml:"min_requests"`
}

// AdminRoles are the admin API's roles, weakest first.
var AdminRoles = []string{"viewer", "operator", "admin"}

// AdminTLS is the admin listener's certificate and, for mutual TLS, the
// CA its clients' certificates must chain to.
type AdminTLS struct {
	// Cert and Key are the PEM certificate chain and private key files;
	// both required.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, when set, is a PEM file of CA certificates: every admin
	// request but GET /healthz and GET /readyz then needs a client
	// certificate that chains to one of them.
	ClientCA string `yaml:"client_ca"`
}

// AdminOnLoopback reports whether the admin listener listens on loopback
// only (localhost or a loopback address), or is off.
func (c *Config) AdminOnLoopback() bool {
	if c.Admin == "off" {
		return true
	}
	host, _, err := net.SplitHostPort(c.Admin)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// AdminAuthenticated reports whether admin requests must authenticate:
// with a bearer token or a client certificate.
func (a *AdminSecurityConfig) AdminAuthenticated() bool {
	return len(a.Tokens) > 0 || (a.TLS != nil && a.TLS.ClientCA != "")
}

// applyDefaults names unnamed tokens "token-N", makes roleless ones
// admin, and fills the release watch's window and minimum.
func (a *AdminSecurityConfig) applyDefaults() {
	for i := range a.Tokens {
		if a.Tokens[i].Name == "" {
			a.Tokens[i].Name = fmt.Sprintf("token-%d", i)
		}
		if a.Tokens[i].Role == "" {
			a.Tokens[i].Role = "admin"
		}
	}
	if a.Release.Window == 0 {
		a.Release.Window = Duration(time.Minute)
	}
	if a.Release.MinRequests == 0 {
		a.Release.MinRequests = 20
	}
}

func (a *AdminSecurityConfig) validate(bad func(key, format string, args ...any)) {
	for i, h := range a.Hosts {
		if h == "" || strings.ContainsAny(h, ":/ *@[]") {
			bad(fmt.Sprintf("admin_security.hosts[%d]", i), "%q is not a host name (no scheme, port or path; IP addresses need no entry)", h)
		}
	}
	names := map[string]int{}
	for i, tk := range a.Tokens {
		key := fmt.Sprintf("admin_security.tokens[%d]", i)
		if _, err := tk.KeyHash(); err != nil {
			bad(key, "%v", err)
		}
		if tk.Role != "" && !slices.Contains(AdminRoles, tk.Role) {
			bad(key+".role", "%q is not a role (viewer, operator or admin)", tk.Role)
		}
		if first, dup := names[tk.Name]; dup && tk.Name != "" {
			bad(key+".name", "%q is also the name of tokens[%d]: the audit log could not tell them apart", tk.Name, first)
		}
		names[tk.Name] = i
	}
	for cn, role := range a.CertRoles {
		if !slices.Contains(AdminRoles, role) {
			bad("admin_security.cert_roles."+cn, "%q is not a role (viewer, operator or admin)", role)
		}
	}
	if r := a.Release; r.AbortMargin < 0 || r.AbortMargin > 1 || r.Window < 0 || r.MinRequests < 0 {
		bad("admin_security.release", "abort_margin is a share from 0 to 1 (e.g. 0.05), window and min_requests not negative")
	}
	if a.TLS != nil && (a.TLS.Cert == "" || a.TLS.Key == "") {
		bad("admin_security.tls", "both cert and key are required (client_ca adds mutual TLS)")
	}
}
