package etcdtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Options change how the server runs; the zero value is plain HTTP
// without authentication.
type Options struct {
	// TLS serves clients over TLS with a CA made for the test, and
	// requires client certificates signed by it.
	TLS bool
	// Password enables authentication with a user "root" of this
	// password.
	Password string
}

// Server is a running etcd server. Its methods are safe for concurrent
// use.
type Server struct {
	// Endpoint is the client URL, http:// or https://127.0.0.1:port; it
	// survives Restart.
	Endpoint string
	// CA, Cert and Key are PEM files when Options.TLS is set: the CA
	// that signed the server's certificate and a client certificate.
	CA, Cert, Key string

	t    testing.TB
	opts Options
	dir  string
	peer string

	mu sync.Mutex
	e  *embed.Etcd
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: o, dir: t.TempDir()}
	scheme := "http"
	if o.TLS {
		scheme = "https"
		s.writeCerts()
	}
	s.Endpoint = scheme + "://" + testkit.FreeAddr(t)
	s.peer = "http://" + testkit.FreeAddr(t)
	s.start()
	t.Cleanup(s.Stop)
	if o.Password != "" {
		c := s.client("", "")
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.UserAdd(ctx, "root", o.Password); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UserGrantRole(ctx, "root", "root"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AuthEnable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *Server) start() {
	s.t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "refract-test"
	cfg.Dir = filepath.Join(s.dir, "data")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, _ := url.Parse(s.Endpoint)
	pu, _ := url.Parse(s.peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.InitialClusterToken = "refract-test"
	// The lowest cost bcrypt allows: each authentication hashes the
	// password, and the default cost takes seconds under the race detector.
	cfg.BcryptCost = 4
	if s.opts.TLS {
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: s.path("server.pem"), KeyFile: s.path("server-key.pem"),
			TrustedCAFile: s.CA, ClientCertAuth: true}
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		s.t.Fatalf("etcdtest: start: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		s.t.Fatalf("etcdtest: server failed at start: %v", err)
	case <-time.After(60 * time.Second):
		e.Close()
		s.t.Fatal("etcdtest: server not ready after 60s")
	}
	s.mu.Lock()
	s.e = e
	s.mu.Unlock()
}

// Stop stops the server (its data stays for Restart).
func (s *Server) Stop() {
	s.mu.Lock()
	e := s.e
	s.e = nil
	s.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// Restart starts the server again on the same address and data after
// Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// Client returns a client with the root credentials and the client
// certificate (when the server has them), closed when the test ends.
func (s *Server) Client() *clientv3.Client {
	s.t.Helper()
	c := s.client("root", s.opts.Password)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) client(user, password string) *clientv3.Client {
	s.t.Helper()
	cfg := clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if password != "" {
		cfg.Username, cfg.Password = user, password
	}
	if s.opts.TLS {
		tc, err := transport.TLSInfo{CertFile: s.Cert, KeyFile: s.Key, TrustedCAFile: s.CA}.ClientConfig()
		if err != nil {
			s.t.Fatal(err)
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Register puts an endpoint under target in grpc-go's etcd naming format
// (endpoints.Manager, as a registering backend would), keyed target/id.
func (s *Server) Register(c *clientv3.Client, target, id, addr string, metadata any) {
	s.t.Helper()
	m, err := endpoints.NewManager(c, target)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.AddEndpoint(ctx, target+"/"+id, endpoints.Endpoint{Addr: addr, Metadata: metadata}); err != nil {
		s.t.Fatalf("etcdtest: register %s: %v", id, err)
	}
}

// Deregister deletes the endpoint target/id.
func (s *Server) Deregister(c *clientv3.Client, target, id string) {
	s.t.Helper()
	m, err := endpoints.NewManager(c, target)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.DeleteEndpoint(ctx, target+"/"+id); err != nil {
		s.t.Fatalf("etcdtest: deregister %s: %v", id, err)
	}
}

func (s *Server) path(name string) string { return filepath.Join(s.dir, name) }

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, each valid for a day.
func (s *Server) writeCerts() {
	s.t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "refract-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		s.t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	s.CA = s.path("ca.pem")
	s.write(s.CA, "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			s.t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		s.write(s.path(name+".pem"), "CERTIFICATE", der)
		s.write(s.path(name+"-key.pem"), "EC PRIVATE KEY", kder)
	}
	leaf("server", 2, x509.ExtKeyUsageServerAuth)
	leaf("client", 3, x509.ExtKeyUsageClientAuth)
	s.Cert, s.Key = s.path("client.pem"), s.path("client-key.pem")
}

func (s *Server) write(path, typ string, der []byte) {
	s.t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		s.t.Fatal(err)
	}
}
