package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// testPKI is a CA with a server and a client certificate, written to files
// the way an operator would have them.
type testPKI struct {
	dir                           string
	caFile, serverCert, serverKey string
	clientCert, clientKey         string
	pool                          *x509.CertPool
	serverPair, clientPair        tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "refract test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string, tls.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{name}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		cf := p.write(t, name+".pem", "CERTIFICATE", der)
		kf := p.write(t, name+"-key.pem", "PRIVATE KEY", keyDER)
		pair, err := tls.LoadX509KeyPair(cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		return cf, kf, pair
	}
	p.serverCert, p.serverKey, p.serverPair = issue("library.internal", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey, p.clientPair = issue("refract", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUpstreamMTLS(t *testing.T) {
	pki := newTestPKI(t)
	creds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.serverPair},
		ClientCAs:    pki.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	lib := startLibrary(t, grpc.Creds(creds))
	h := startGateway(t, libraryConfig(lib.Addr, fmt.Sprintf(`    tls:
      ca: %s
      cert: %s
      key: %s
      server_name: library.internal
`, pki.caFile, pki.clientCert, pki.clientKey)))
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)

	// Without the client certificate the backend refuses the handshake, so
	// no descriptors ever arrive and the gateway is not ready.
	cfg, err := config.Parse([]byte(libraryConfig(lib.Addr, fmt.Sprintf("    tls: {ca: %s, server_name: library.internal}\n", pki.caFile))))
	if err != nil {
		t.Fatal(err)
	}
	gw := newGateway(t, cfg, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := gw.WaitReady(ctx); err == nil {
		t.Fatal("ready without a client certificate")
	}
}

func TestPublicTLSAndH2C(t *testing.T) {
	pki := newTestPKI(t)
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "")+fmt.Sprintf("tls: {cert: %s, key: %s}\n", pki.serverCert, pki.serverKey))
	base := strings.Replace(h.base, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pki.pool, ServerName: "library.internal"},
		ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get(base + "/v1/shelves/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("TLS: status %d over %s", resp.StatusCode, resp.Proto)
	}

	plain := startGateway(t, libraryConfig(lib.Addr, ""))
	h2c := h2cClient(t)
	resp, err = h2c.Get(plain.base + "/v1/shelves/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("h2c: status %d over %s", resp.StatusCode, resp.Proto)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	var inFlight atomic.Int32
	slow := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		inFlight.Add(1)
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return handler(ctx, req)
	}
	lib := startLibrary(t, grpc.UnaryInterceptor(slow))
	h := startGateway(t, libraryConfig(lib.Addr, ""))
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, 5)
	for i := 0; i < 5; i++ {
		go func() {
			resp, err := http.Get(h.base + "/v1/shelves/1")
			if err != nil {
				results <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{status: resp.StatusCode, body: string(b)}
		}()
	}
	// Start the shutdown only once all five wait on the backend.
	eventually(t, 10*time.Second, "5 calls at the backend", func() bool { return inFlight.Load() >= 5 })
	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	for i := 0; i < 5; i++ {
		r := <-results
		if r.err != nil || r.status != 200 || !strings.Contains(r.body, "Fiction") {
			t.Errorf("in-flight request: %v %d %s", r.err, r.status, r.body)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(h.base + "/v1/shelves/1"); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}
