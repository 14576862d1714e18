package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/refract-gateway/refract/gateway/grpcproxy"
	"github.com/refract-gateway/refract/gateway/observe"
	"github.com/refract-gateway/refract/gateway/stream"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/resilience"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The RPC protocols beside HTTP+JSON: a native gRPC request runs the
// edge policies, then its method's route chain (the chain of the method's
// first route, so the same auth, limits and breaker), which ends in the
// proxy instead of the transcoder. gRPC-Web and Connect requests are
// converted to gRPC first and take the same way. A method that is hidden
// has no route, so no protocol reaches it.

// serveRPC serves a request in an RPC protocol.
func (g *Gateway) serveRPC(w http.ResponseWriter, r *http.Request, p grpcproxy.Protocol) {
	if p != grpcproxy.GRPC {
		if web := g.web.Load(); web != nil {
			(*web).ServeHTTP(w, r)
			return
		}
	}
	g.serveConverted(w, r)
}

// serveConverted serves a gRPC request, native or converted: the gateway's
// HTTP rejections become gRPC statuses.
func (g *Gateway) serveConverted(w http.ResponseWriter, r *http.Request) {
	w, finish := grpcproxy.Reject(w)
	defer finish()
	(*g.edge.Load()).ServeHTTP(w, r)
}

// serveGRPC finds a gRPC request's route by its method path and runs the
// route's gRPC chain.
func (g *Gateway) serveGRPC(w http.ResponseWriter, r *http.Request) {
	info := policy.InfoFrom(r.Context())
	if info != nil {
		info.Stage = policy.NoStage
	}
	var rt *route
	if idx := g.grpcIdx.Load(); idx != nil {
		rt = (*idx)[g.prod.OfRequest(r)][r.URL.Path]
	}
	if rt == nil {
		if h := g.reflect.Load(); h != nil && grpcproxy.IsReflection(r.URL.Path) {
			if info != nil {
				info.Route, info.Method = "gRPC "+r.URL.Path, "grpc.reflection"
			}
			(*h).ServeHTTP(w, r)
			return
		}
		grpcproxy.WriteStatus(w, codes.Unimplemented, fmt.Sprintf("method %s is not published here", r.URL.Path))
		return
	}
	if info != nil {
		info.Route, info.Method, info.Upstream = rt.grpcRef, rt.method, rt.up.name
		info.Observer = rt.grpcObs
	}
	rt.grpc.ServeHTTP(w, r)
}

// grpcIndex maps the gRPC path of every routed method to its first route.
func grpcIndex(entries []router.Entry[*route]) map[string]*route {
	idx := make(map[string]*route, len(entries))
	for _, e := range entries {
		rt := e.Value
		if _, ok := idx[rt.binding.FullMethod]; !ok && rt.grpc != nil {
			idx[rt.binding.FullMethod] = rt
		}
	}
	return idx
}

// serveGRPCCall is the innermost handler of a route's gRPC chain: the
// proxied call.
func (g *Gateway) serveGRPCCall(rt *route) http.Handler {
	b := rt.binding
	streaming := b.ClientStreaming || b.ServerStreaming
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := policy.InfoFrom(r.Context())
		if info != nil {
			info.Stage = policy.NoStage
		}
		if why := rt.up.unavailable(); why != "" {
			grpcproxy.WriteStatus(w, codes.Unavailable, why)
			return
		}
		ip := policy.ClientAddrString(r, info)
		md, err := rt.up.headers.MetadataInto(g.mds.Get(), r, ip)
		defer g.mds.Put(md) // the proxy has returned: the call is over
		if err != nil {
			grpcproxy.WriteStatus(w, codes.InvalidArgument, err.Error())
			return
		}
		g.pol.Identity(md, info)
		lim := &rt.up.o.Streams
		limit := rt.call.Deadline(rt.up.timeout)
		if streaming {
			limit = lim.MaxDuration
		}
		timeout, clientDeadline, err := transcode.CallTimeout(r.Header.Get("Grpc-Timeout"), limit, g.limits.MinClientTimeout, g.limits.MaxClientTimeout)
		if err != nil {
			grpcproxy.WriteStatus(w, codes.InvalidArgument, err.Error())
			return
		}
		up := &grpcCall{g: g, rt: rt, r: r, info: info, clientDeadline: clientDeadline, timeout: timeout}
		c := &up.call
		*c = grpcproxy.Call{Method: b.FullMethod, ClientStreams: b.ClientStreaming, ServerStreams: b.ServerStreaming,
			MD: md, Timeout: timeout, MaxResponseBytes: g.limits.ResponseBytes, Upstream: up}
		if streaming {
			if n := lim.MaxMessageBytes; n > 0 && n < int64(c.MaxResponseBytes) {
				c.MaxResponseBytes = int(n)
			}
			slot := rt.up.name + " " + ip
			if !g.streams.Acquire(slot, lim.MaxPerClient) {
				g.obs.Rejected(observe.RejectStreamLimit)
				grpcproxy.WriteStatus(w, codes.ResourceExhausted, fmt.Sprintf(
					"too many concurrent streams from %s to upstream %q: the limit is %d; close one first", ip, rt.up.name, lim.MaxPerClient))
				return
			}
			defer g.streams.Release(slot)
			ctx, cancel := context.WithCancelCause(r.Context())
			defer cancel(nil)
			defer g.streams.Track(cancel)()
			r = r.WithContext(ctx)
			up.r = r
			stream.ClearDeadlines(w)
		}
		g.rpc.Serve(w, r, c)
	})
}

// grpcCall is the engine's side of one proxied call, with the call itself
// (grpcproxy.Upstream): one allocation per call.
type grpcCall struct {
	call           grpcproxy.Call
	g              *Gateway
	rt             *route
	r              *http.Request
	info           *policy.Info
	clientDeadline bool
	timeout        time.Duration
}

func (c *grpcCall) Unary(ctx context.Context, req, resp *grpcproxy.Frame, pr *peer.Peer, opts ...grpc.CallOption) error {
	return c.rt.invoke(ctx, c.r, c.clientDeadline, req, resp, pr, opts...)
}

func (c *grpcCall) Open(ctx context.Context, desc *grpc.StreamDesc, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.rt.grpcObs.StreamOpened()
	return c.rt.conn.NewStream(ctx, desc, c.rt.binding.FullMethod, opts...)
}

func (c *grpcCall) Status(err error) *status.Status { return c.g.grpcStatus(c.r, c.rt, err, c.timeout) }

func (c *grpcCall) Done(code codes.Code, endpoint net.Addr) {
	if c.info != nil {
		c.info.SetCode(int32(code))
		if endpoint != nil {
			c.info.Endpoint = endpoint
		}
	}
	if b := c.rt.binding; b.ClientStreaming || b.ServerStreaming {
		c.rt.grpcObs.StreamEnded(code)
	}
}

// grpcStatus is what a gRPC client is told of a failed upstream call: as
// an HTTP client would be (the backend's status unchanged, the gateway's
// words on its own failures), an open breaker as UNAVAILABLE.
func (g *Gateway) grpcStatus(r *http.Request, rt *route, err error, timeout time.Duration) *status.Status {
	var open *resilience.BreakerOpenError
	if errors.As(err, &open) {
		g.obs.Rejected(observe.RejectBreaker)
		return status.New(codes.Unavailable, open.Error())
	}
	return status.FromProto(g.callStatus(r, rt, status.Convert(err), timeout))
}

// rebuildWeb builds the gRPC-Web and Connect converter for the services of
// the methods now published; on failure the previous one stays. Control
// path.
func (g *Gateway) rebuildWeb() {
	var sds []protoreflect.ServiceDescriptor
	if idx := g.grpcIdx.Load(); idx != nil {
		for _, m := range *idx {
			for _, rt := range m {
				sds = append(sds, rt.binding.Method.Parent().(protoreflect.ServiceDescriptor))
			}
		}
	}
	sort.Slice(sds, func(i, j int) bool { return sds[i].FullName() < sds[j].FullName() })
	if g.served != nil {
		// Over the policies now current: an Update replaces them, then
		// rebuilds the routes, and so this.
		ref := RouteRef{Method: "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
			Route: "POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo"}
		h, _ := compileRoute(g.pol.Route(ref), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if info := policy.InfoFrom(r.Context()); info != nil {
				info.Stage = policy.NoStage
			}
			g.rpc.Serve(w, r, nil)
		}))
		g.reflect.Store(&h)
		var methods []protoreflect.MethodDescriptor
		for _, m := range *g.grpcIdx.Load() {
			for _, rt := range m {
				methods = append(methods, rt.binding.Method)
			}
		}
		sort.Slice(methods, func(i, j int) bool { return methods[i].FullName() < methods[j].FullName() })
		if err := g.served.Update(methods); err != nil {
			g.log.Error().Err(err).Msg("gRPC reflection keeps the previous services")
		}
		sds = append(sds, g.served.Schemas()...)
	}
	h, err := grpcproxy.NewWeb(sds, uint32(min(g.limits.BodyBytes, 1<<32-1)), http.HandlerFunc(g.serveConverted))
	if err != nil {
		g.log.Error().Err(err).Msg("gRPC-Web and Connect keep the previous services")
		return
	}
	g.web.Store(&h)
}

// newRPC builds the gRPC proxy and, when served, the reflection service
// (its chain is compiled with the routes).
func (g *Gateway) newRPC(serveReflection bool) {
	o := grpcproxy.Options{MaxRequestBytes: int(min(g.limits.BodyBytes, 1<<31-1))}
	if serveReflection {
		g.served = grpcproxy.NewReflection()
		o.Register = g.served.Register
	}
	g.rpc = grpcproxy.New(o)
}
