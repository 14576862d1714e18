package extauthz

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/refract-gateway/refract/gateway/config/yamlcheck"
	"github.com/refract-gateway/refract/policy"
)

// Authorizer is the external authorizer (top-level key ext_authz),
// asked before the call on the routes whose policies say ext_authz: true.
type Authorizer struct {
	// HTTP asks a URL (forward-auth style); GRPC an
	// envoy.service.auth.v3.Authorization service. Exactly one.
	HTTP *HTTPAuthorizer `yaml:"http"`
	GRPC *GRPCAuthorizer `yaml:"grpc"`
	// Timeout bounds one decision; default 1s.
	Timeout yamlcheck.Duration `yaml:"timeout"`
	// FailureMode is closed (503 when the authorizer fails; default) or
	// open (admit).
	FailureMode string `yaml:"failure_mode"`
	// CacheTTL keeps identical requests' decisions; default 0 (off).
	CacheTTL yamlcheck.Duration `yaml:"cache_ttl"`
	// CacheSize bounds the cache; default 10000.
	CacheSize int `yaml:"cache_size"`
	// SendHeaders are the request headers the authorizer sees; default
	// Authorization.
	SendHeaders []string `yaml:"send_headers"`
}

// HTTPAuthorizer is an HTTP authorizer.
type HTTPAuthorizer struct {
	// URL receives a GET per request to decide; 2xx allows.
	URL string `yaml:"url"`
	// UpstreamHeaders are the authorizer's response headers that reach the
	// backend as metadata when it allows.
	UpstreamHeaders []string `yaml:"upstream_headers"`
}

// GRPCAuthorizer is a gRPC authorizer, plaintext (on loopback or a mesh).
type GRPCAuthorizer struct {
	// Addr is host:port of an envoy.service.auth.v3.Authorization server.
	Addr string `yaml:"addr"`
	// UpstreamHeaders are the ok_response headers the authorizer vouches
	// for (X-Auth-User …): a client's own values under these names (or as
	// Grpc-Metadata-*) are dropped on every route, with or without
	// ext_authz. Every ok_response header still reaches the backend.
	UpstreamHeaders []string `yaml:"upstream_headers"`
}

// FailOpen reports failure_mode open; Check refuses values other than
// open, closed and empty (closed).
func (c *Authorizer) FailOpen() bool { return c.FailureMode == "open" }

// ExtAuthzOptions are the policy.ExtAuthzOptions the keys describe, but
// for the gRPC client and the logger, which the gateway adds.
func (c *Authorizer) ExtAuthzOptions() policy.ExtAuthzOptions {
	o := policy.ExtAuthzOptions{Timeout: time.Duration(c.Timeout), CacheTTL: time.Duration(c.CacheTTL),
		CacheSize: c.CacheSize, SendHeaders: c.SendHeaders, FailOpen: c.FailOpen()}
	if c.HTTP != nil {
		o.HTTPURL, o.UpstreamHeaders = c.HTTP.URL, c.HTTP.UpstreamHeaders
	}
	if c.GRPC != nil {
		o.UpstreamHeaders = c.GRPC.UpstreamHeaders
	}
	return o
}

// Check reports the first problem of the authorizer's keys: failure_mode,
// not exactly one of http and grpc, grpc.addr not host:port, or what
// policy.CheckExtAuthz refuses. It dials nothing.
func (c *Authorizer) Check() error {
	switch c.FailureMode {
	case "", "closed", "open":
	default:
		return fmt.Errorf("failure_mode %q is not open or closed", c.FailureMode)
	}
	switch {
	case c.HTTP != nil && c.GRPC != nil:
		return errors.New("http and grpc exclude each other")
	case c.HTTP != nil:
	case c.GRPC != nil:
		if _, _, err := net.SplitHostPort(c.GRPC.Addr); err != nil {
			return fmt.Errorf("grpc.addr %q is not host:port", c.GRPC.Addr)
		}
	default:
		return errors.New("needs http: {url: …} or grpc: {addr: …}")
	}
	return policy.CheckExtAuthz(c.ExtAuthzOptions(), c.GRPC != nil)
}
