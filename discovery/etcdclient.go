package discovery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdClientOptions say which etcd cluster a client talks to and how.
type EtcdClientOptions struct {
	// Endpoints are the cluster's client URLs (http://host:port or
	// https://host:port) or host:port; at least one.
	Endpoints []string
	// Username and Password authenticate to etcd when it has auth
	// enabled; both or neither.
	Username, Password string
	// TLS, when set, dials etcd over TLS (mTLS with Cert and Key).
	TLS *EtcdTLS
	// DialTimeout bounds each connection attempt and, with a password,
	// the authentication that starts a client; default 5s.
	DialTimeout time.Duration
}

// EtcdTLS is how the client verifies etcd and, with Cert and Key, proves
// who it is. Files are PEM.
type EtcdTLS struct {
	CA, Cert, Key string
	// ServerName overrides the name verified in etcd's certificate.
	ServerName string
}

// EtcdClient is the etcd client every etcd source of a process shares. It
// connects on first use, not when built: etcd's client authenticates as
// it starts, and a cluster that is down (or refuses the password) when the
// gateway starts must show as a failing source, not a failed start. Safe
// for concurrent use.
type EtcdClient struct {
	cfg    clientv3.Config
	cancel context.CancelFunc // ends cfg.Context: a start in progress stops at Close

	mu     sync.Mutex
	c      *clientv3.Client
	closed bool
}

// NewEtcdClient validates o and reads its TLS files; it does not connect.
// Close the client when done.
func NewEtcdClient(o EtcdClientOptions) (*EtcdClient, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd: at least one endpoint is required")
	}
	if (o.Username == "") != (o.Password == "") {
		return nil, errors.New("etcd: username and password go together")
	}
	cfg := clientv3.Config{
		Endpoints:   o.Endpoints,
		Username:    o.Username,
		Password:    o.Password,
		DialTimeout: o.DialTimeout,
		// The client logs its own retries; the sources log each change of
		// state once, where the gateway's logger is.
		Logger: zap.NewNop(),
		// Dead members are noticed between calls too, so a watch on a
		// silent network fails over instead of hanging.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if t := o.TLS; t != nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
		if t.CA != "" {
			pem, err := os.ReadFile(t.CA)
			if err != nil {
				return nil, fmt.Errorf("etcd: tls ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcd: tls ca %s: no PEM certificate in it", t.CA)
			}
		}
		if (t.Cert == "") != (t.Key == "") {
			return nil, errors.New("etcd: tls cert and key go together")
		}
		if t.Cert != "" {
			pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
			if err != nil {
				return nil, fmt.Errorf("etcd: tls client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		cfg.TLS = tc
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Context = ctx
	return &EtcdClient{cfg: cfg, cancel: cancel}, nil
}

// get returns the client, starting it if need be (which may take up to
// DialTimeout, authenticating).
func (e *EtcdClient) get() (*clientv3.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("etcd: client closed")
	}
	if e.c == nil {
		c, err := clientv3.New(e.cfg)
		if err != nil {
			return nil, fmt.Errorf("etcd: connecting to %s: %w", strings.Join(e.cfg.Endpoints, ","), err)
		}
		e.c = c
	}
	return e.c, nil
}

// Endpoints are the etcd URLs the client talks to.
func (e *EtcdClient) Endpoints() []string { return e.cfg.Endpoints }

// Close closes the connection, if one was made; sources using the client
// fail from then on.
func (e *EtcdClient) Close() error {
	e.cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.c == nil {
		return nil
	}
	return e.c.Close()
}
