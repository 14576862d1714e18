package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
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
	// value, hashed when loaded); every admin request but GET /healthz,
	// GET /readyz and the dashboard's static files then needs
	// Authorization: Bearer TOKEN.
	Tokens []SecretConfig `yaml:"tokens"`
	// TLS serves the admin listener over TLS; with client_ca, mutual TLS.
	TLS *AdminTLS `yaml:"tls"`
	// Pprof serves Go's profiles on /debug/pprof/ of the admin listener;
	// default false.
	Pprof bool `yaml:"pprof"`
}

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

func (a *AdminSecurityConfig) validate(bad func(key, format string, args ...any)) {
	for i, h := range a.Hosts {
		if h == "" || strings.ContainsAny(h, ":/ *@[]") {
			bad(fmt.Sprintf("admin_security.hosts[%d]", i), "%q is not a host name (no scheme, port or path; IP addresses need no entry)", h)
		}
	}
	for i, tk := range a.Tokens {
		if _, err := tk.KeyHash(); err != nil {
			bad(fmt.Sprintf("admin_security.tokens[%d]", i), "%v", err)
		}
	}
	if a.TLS != nil && (a.TLS.Cert == "" || a.TLS.Key == "") {
		bad("admin_security.tls", "both cert and key are required (client_ca adds mutual TLS)")
	}
}
