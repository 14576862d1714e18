package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// upstream is one backend as the request path sees it: its connection (one
// per upstream, balanced by grpc-go over what discovery reports), header
// rules and call options. Immutable after newUpstream.
type upstream struct {
	name     string
	cfg      Upstream
	source   discovery.Source
	resolver *discovery.Resolver
	conn     *grpc.ClientConn
	headers  *transcode.HeaderRules
	timeout  time.Duration
	rules    map[string]*annotations.HttpRule // config rules by method full name
	opts     transcode.Options                // without Resolver: that comes per snapshot

	// endpoints is the size of the last set discovery pushed, -1 before the
	// first; the request path reads it to name an empty upstream clearly.
	endpoints atomic.Int64
}

func newUpstream(cfg Upstream) (*upstream, error) {
	src, err := discovery.NewStatic(cfg.Static)
	if err != nil {
		return nil, err
	}
	headers, err := transcode.NewHeaderRules(cfg.ForwardHeaders)
	if err != nil {
		return nil, err
	}
	creds, err := upstreamCredentials(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", cfg.Name, err)
	}
	// The scheme is per upstream so that each ClientConn has its own
	// resolver; upstream names are already scheme-safe but for '_'.
	res := discovery.NewResolver("refract-" + strings.ReplaceAll(cfg.Name, "_", "-"))
	conn, err := grpc.NewClient(res.Target(),
		res.DialOption(),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(discovery.ServiceConfig(cfg.Balancer)),
	)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", cfg.Name, err)
	}
	u := &upstream{
		name:     cfg.Name,
		cfg:      cfg,
		source:   src,
		resolver: res,
		conn:     conn,
		headers:  headers,
		timeout:  time.Duration(cfg.Timeout),
		rules:    make(map[string]*annotations.HttpRule, len(cfg.Rules)),
		opts: transcode.Options{
			UseProtoNames:   cfg.JSON.UseProtoNames,
			OmitUnpopulated: !*cfg.JSON.EmitUnpopulated,
			Strict:          cfg.Strict,
		},
	}
	u.endpoints.Store(-1)
	for _, r := range cfg.Rules {
		if u.rules[r.Selector], err = r.toProto(true); err != nil {
			return nil, fmt.Errorf("upstream %q: rule %s: %w", cfg.Name, r.Selector, err)
		}
	}
	return u, nil
}

// watch feeds discovery updates into the connection's resolver and tells
// onChange, until ctx is done.
func (u *upstream) watch(ctx context.Context, onChange func()) {
	u.source.Watch(ctx, func(up discovery.Update) {
		u.resolver.Update(up.Endpoints)
		u.endpoints.Store(int64(len(up.Endpoints)))
		onChange()
	})
}

func upstreamCredentials(t *UpstreamTLS) (credentials.TransportCredentials, error) {
	if t == nil {
		return insecure.NewCredentials(), nil
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
	return credentials.NewTLS(conf), nil
}
