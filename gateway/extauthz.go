package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// buildExtAuthz builds the authorizer; the returned connection (gRPC)
// belongs to the caller. No network traffic happens until the first check.
func buildExtAuthz(c *config.ExtAuthzConfig, log zerolog.Logger) (*policy.ExtAuthz, *grpc.ClientConn, error) {
	if c == nil {
		return nil, nil, nil
	}
	o := policy.ExtAuthzOptions{Timeout: time.Duration(c.Timeout), CacheTTL: time.Duration(c.CacheTTL),
		CacheSize: c.CacheSize, SendHeaders: c.SendHeaders, Logger: log.With().Str("component", "ext_authz").Logger()}
	switch c.FailureMode {
	case "", "closed":
	case "open":
		o.FailOpen = true
	default:
		return nil, nil, fmt.Errorf("failure_mode %q is not open or closed", c.FailureMode)
	}
	var conn *grpc.ClientConn
	switch {
	case c.HTTP != nil && c.GRPC != nil:
		return nil, nil, errors.New("http and grpc exclude each other")
	case c.HTTP != nil:
		o.HTTPURL, o.UpstreamHeaders = c.HTTP.URL, c.HTTP.UpstreamHeaders
	case c.GRPC != nil:
		if _, _, err := net.SplitHostPort(c.GRPC.Addr); err != nil {
			return nil, nil, fmt.Errorf("grpc.addr %q is not host:port", c.GRPC.Addr)
		}
		var err error
		conn, err = grpc.NewClient("passthrough:///"+url.PathEscape(c.GRPC.Addr), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		o.GRPC = authv3.NewAuthorizationClient(conn)
	default:
		return nil, nil, errors.New("needs http: {url: …} or grpc: {addr: …}")
	}
	a, err := policy.NewExtAuthz(o)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil, nil, err
	}
	return a, conn, nil
}

// extAuthzStage is the route's external-authorization stage: the most
// specific level's ext_authz decides; nil when off.
func (p *policies) extAuthzStage(levels []*levelPolicies, upstream, method, routeName string) policy.Policy {
	on := false
	for _, l := range levels {
		if l.cfg.ExtAuthz != nil {
			on = *l.cfg.ExtAuthz
		}
	}
	if !on || p.extAuthz == nil {
		return nil
	}
	return p.extAuthz.Policy(routeName, method, upstream)
}
