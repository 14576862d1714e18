package setup

import (
	"net/url"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config/extauthz"
	"github.com/refract-gateway/refract/policy"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// buildExtAuthz builds the authorizer; the returned connection (gRPC)
// belongs to the caller. No network traffic happens until the first check.
func buildExtAuthz(c *extauthz.Authorizer, log zerolog.Logger) (*policy.ExtAuthz, *grpc.ClientConn, error) {
	if c == nil {
		return nil, nil, nil
	}
	o := c.ExtAuthzOptions()
	o.Logger = log.With().Str("component", "ext_authz").Logger()
	var conn *grpc.ClientConn
	if c.GRPC != nil {
		var err error
		conn, err = grpc.NewClient("passthrough:///"+url.PathEscape(c.GRPC.Addr), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		o.GRPC = authv3.NewAuthorizationClient(conn)
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
// specific level's ext_authz decides; nil when off. A route that asks for
// the authorizer when none is configured (config validation refuses
// that; this is the run-time fail-safe) is answered 503, never served
// unchecked.
func (p *policies) extAuthzStage(levels []*levelPolicies, r gateway.RouteRef) policy.Policy {
	on := false
	for _, l := range levels {
		if l.cfg.ExtAuthz != nil {
			on = *l.cfg.ExtAuthz
		}
	}
	if !on {
		return nil
	}
	if p.extAuthz == nil {
		p.log.Error().Str("route", r.Route).Str("upstream", r.Upstream).
			Msg("route asks for ext_authz but no authorizer is configured; answering 503")
		return policy.Unavailable("ext_authz is on for " + r.Route + " but no authorizer is configured (the top-level ext_authz key); refusing rather than serving it unchecked")
	}
	return p.extAuthz.Policy(r.Route, r.Method, r.Upstream)
}
