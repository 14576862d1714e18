package gateway

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	upconn "github.com/refract-gateway/refract/gateway/upstream"
	"github.com/refract-gateway/refract/reflection"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
)

// upstream is one backend as the request path sees it: its connections
// (conns: one per upstream, balanced by grpc-go over what discovery
// reports, with its subsets and schema tracking), header rules and call
// options. Immutable after newUpstream but for what conns publishes
// atomically and its schema tracking, which the control path owns
// (guarded by Gateway.buildMu).
type upstream struct {
	name    string
	key     string // UpstreamOptions.Key
	o       UpstreamOptions
	auto    bool // exposed from a service catalog, not configured
	conns   *upconn.Upstream
	headers *transcode.HeaderRules
	timeout time.Duration
	rules   map[string]*annotations.HttpRule // rules by method full name
	opts    transcode.Options                // without Resolver: that comes per snapshot
	// unaryOpts are the gateway's unary call options and the upstream's
	// request compression, built once.
	unaryOpts []grpc.CallOption

	cancel context.CancelFunc // stops the watch
	done   chan struct{}      // closed when the watch has returned

	// staged: built by Update, not serving yet (its descriptors are not
	// in the gateway's cache); its discovery watch only feeds its
	// resolvers.
	staged atomic.Bool
	// pred is the upstream of the same name this one replaces, whose
	// routes are served until this one's are built; guarded by buildMu.
	pred *upstream
}

// defaultUpstreamTimeout is a call's deadline when UpstreamOptions.Conn
// sets none.
const defaultUpstreamTimeout = 30 * time.Second

// newUpstream connects an upstream; retire closes connections no longer
// used after a grace; extra are dial options of the gateway's (tracing)
// added to every connection of it.
func newUpstream(o UpstreamOptions, g *Gateway, extra ...grpc.DialOption) (*upstream, error) {
	headers := o.Headers
	if headers == nil {
		var err error
		if headers, err = transcode.NewHeaderRules(nil); err != nil {
			return nil, err
		}
	}
	co := o.Conn
	if co.Timeout <= 0 {
		co.Timeout = defaultUpstreamTimeout
	}
	co.DialOptions = append(append([]grpc.DialOption(nil), co.DialOptions...), extra...)
	co.Logger, co.Retire = g.log, g.closeLater
	// Schema groups are reflected like the upstream, and not at all when
	// its descriptors come from files only.
	d := o.Descriptors
	co.GroupReflection = reflection.UpstreamOptions{Metadata: d.Metadata, Timeout: d.Timeout}
	co.NoSchemaGroups = len(d.Sources) > 0 && !slices.Contains(d.Sources, reflection.SourceReflection)
	conns, err := upconn.New(co)
	if err != nil {
		return nil, err
	}
	unary := g.unaryOpts[:len(g.unaryOpts):len(g.unaryOpts)]
	if c := o.GRPCCompression; c != "" && c != "identity" {
		unary = append(unary, grpc.UseCompressor(c))
	}
	return &upstream{
		unaryOpts: unary,
		key:       o.Key,
		name:      co.Name,
		o:         o,
		conns:     conns,
		headers:   headers,
		timeout:   co.Timeout,
		rules:     o.Rules,
		opts:      o.Transcode,
	}, nil
}

// hidden applies the upstream's publication rule to a method's full name.
func (u *upstream) hidden(method string) (HiddenMethod, bool) {
	if u.o.Hidden == nil {
		return HiddenMethod{}, false
	}
	if rule, ok := u.o.Hidden(method); ok {
		return HiddenMethod{Method: method, Rule: rule}, true
	}
	return HiddenMethod{}, false
}

// unavailable says why calls cannot go out at all, or "" when they can.
func (u *upstream) unavailable() string { return u.conns.Unavailable() }
