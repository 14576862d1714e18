package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLS is how an upstream is dialled over TLS (1.2 at least). Files are
// read when the upstream is created.
type TLS struct {
	// CA is a PEM file of roots to verify the upstream with; the system
	// roots when empty.
	CA string
	// Cert and Key are PEM files of the client certificate for mTLS; none
	// when empty.
	Cert string
	Key  string
	// ServerName overrides the name verified in the upstream's certificate.
	ServerName string
	// InsecureSkipVerify disables verification; for tests only.
	InsecureSkipVerify bool
}

// tlsConfigFor is the client TLS config of t: nil (plaintext) when t is.
func tlsConfigFor(t *TLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s holds no PEM certificate", t.CA)
		}
		conf.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}
