package server

import (
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/refract-gateway/refract/gateway/admin"
	"github.com/refract-gateway/refract/gateway/config"
)

// adminListener is how a config guards its admin listener: its TLS (nil:
// plain) and who may use the API.
type adminListener struct {
	tls    *tls.Config
	access admin.Access
}

// newAdminListener reads admin_security: the tokens' digests, and the
// certificate and client CA files. With a client CA, a certificate a
// client offers must chain to it (the handshake fails otherwise); the API
// refuses requests that offered none, but for the health checks, so that
// load balancers need no certificate.
func newAdminListener(cfg *config.Config) (adminListener, error) {
	sec := &cfg.AdminSecurity
	a := adminListener{access: admin.Access{Pprof: sec.Pprof}}
	for _, h := range sec.Hosts {
		a.access.Hosts = append(a.access.Hosts, strings.TrimSuffix(strings.ToLower(h), "."))
	}
	for i, tk := range sec.Tokens {
		d, err := tk.KeyHash()
		if err != nil {
			return a, fmt.Errorf("config: admin_security.tokens[%d]: %w", i, err)
		}
		role, err := admin.ParseRole(cmp.Or(tk.Role, "admin"))
		if err != nil {
			return a, fmt.Errorf("config: admin_security.tokens[%d]: %w", i, err)
		}
		a.access.Tokens = append(a.access.Tokens, admin.Token{Digest: [sha256.Size]byte(d), Name: cmp.Or(tk.Name, fmt.Sprintf("token-%d", i)), Role: role})
	}
	for cn, r := range sec.CertRoles {
		role, err := admin.ParseRole(r)
		if err != nil {
			return a, fmt.Errorf("config: admin_security.cert_roles.%s: %w", cn, err)
		}
		if a.access.CertRoles == nil {
			a.access.CertRoles = map[string]admin.Role{}
		}
		a.access.CertRoles[cn] = role
	}
	if sec.TLS == nil || cfg.Admin == "off" {
		return a, nil
	}
	cert, err := tls.LoadX509KeyPair(sec.TLS.Cert, sec.TLS.Key)
	if err != nil {
		return a, fmt.Errorf("config: admin_security.tls: %w", err)
	}
	a.tls = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12}
	if sec.TLS.ClientCA != "" {
		pem, err := os.ReadFile(sec.TLS.ClientCA)
		if err != nil {
			return a, fmt.Errorf("config: admin_security.tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return a, fmt.Errorf("config: admin_security.tls.client_ca: %s holds no PEM certificate", sec.TLS.ClientCA)
		}
		a.tls.ClientCAs, a.tls.ClientAuth = pool, tls.VerifyClientCertIfGiven
		a.access.ClientCert = true
	}
	return a, nil
}

// warnOpenAdmin says, at start and after each reload, how the admin API
// is guarded when it is not: with no token and no client CA it serves
// loopback clients only, read-write (local development), and refuses
// every other client even when it listens beyond loopback.
func warnOpenAdmin(gen *generation) {
	if gen.cfg.Admin == "off" || gen.cfg.AdminSecurity.AdminAuthenticated() {
		return
	}
	ev := gen.log.Info()
	if !gen.cfg.AdminOnLoopback() {
		ev = gen.log.Warn()
	}
	ev.Str("admin", gen.cfg.Admin).Msg("admin API without authentication: it serves loopback clients only, read-write " +
		"(local development); set admin_security.tokens or admin_security.tls.client_ca to use it from elsewhere")
}
