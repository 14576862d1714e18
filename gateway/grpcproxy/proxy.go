package grpcproxy

import (
	"context"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the gzip compressor gRPC clients may use, both legs
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Call is one proxied call, as the engine decided it: the method, the
// outgoing metadata, the deadline, how the upstream is called and how a
// failure is told. Built per request, read by the proxy only.
type Call struct {
	// Method is the gRPC path, "/library.v1.LibraryService/GetShelf".
	Method string
	// ClientStreams and ServerStreams are the method's kind.
	ClientStreams, ServerStreams bool
	// MD is the metadata sent upstream (the engine's header rules and the
	// identity authentication established).
	MD metadata.MD
	// Timeout bounds the call (a unary call's deadline, a stream's maximum
	// duration); 0: none but the client's grpc-timeout.
	Timeout time.Duration
	// MaxResponseBytes bounds one upstream response message; 0: grpc-go's
	// default.
	MaxResponseBytes int
	// Upstream makes the call and is told how it ended.
	Upstream Upstream
}

// Upstream is the engine's side of one call: one value per call, so that
// a call costs one allocation, not one per callback.
type Upstream interface {
	// Unary makes a unary call through the route's plan (breaker,
	// retries, split) with opts, which hold grpc.Peer(pr): pr receives
	// the endpoint that answered.
	Unary(ctx context.Context, req, resp *Frame, pr *peer.Peer, opts ...grpc.CallOption) error
	// Open opens a stream to the upstream.
	Open(ctx context.Context, desc *grpc.StreamDesc, opts ...grpc.CallOption) (grpc.ClientStream, error)
	// Status is what the client is told of a failed call: the upstream's
	// status unchanged, or the gateway's words on failures it produced.
	Status(err error) *status.Status
	// Done is told the code the call ended with and the endpoint that
	// served it (nil when none did).
	Done(code codes.Code, endpoint net.Addr)
}

// Options configure a Proxy.
type Options struct {
	// MaxRequestBytes bounds one request message after decompression
	// (the gateway's max_body_bytes); 0: 4 MiB.
	MaxRequestBytes int
	// Register adds services the proxy serves itself (reflection) to its
	// server; nil: none.
	Register func(grpc.ServiceRegistrar)
}

// Proxy serves native gRPC requests: each is forwarded frame by frame as
// its Call says; the services the proxy serves itself (reflection) run on
// a grpc-go server of its own. Safe for concurrent use.
type Proxy struct {
	srv        *grpc.Server
	maxRequest int
	codec      grpc.CallOption // both legs' frame codec, built once
}

// New builds a proxy.
func New(o Options) *Proxy {
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 4 << 20
	}
	p := &Proxy{maxRequest: o.MaxRequestBytes, codec: grpc.ForceCodecV2(frameCodec{})}
	p.srv = grpc.NewServer(
		grpc.ForceServerCodecV2(frameCodec{}),
		grpc.UnknownServiceHandler(unknown),
		grpc.MaxRecvMsgSize(o.MaxRequestBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
	)
	if o.Register != nil {
		o.Register(p.srv)
	}
	return p
}

// Serve runs r, a gRPC request (HTTP/2, or gRPC-Web and Connect converted
// to gRPC, which may arrive over HTTP/1.1), as c says; c nil serves only
// the proxy's own services (reflection; others are UNIMPLEMENTED).
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, c *Call) {
	if c != nil {
		p.serveCall(w, r, c)
		return
	}
	// grpc-go's handler transport insists on HTTP/2; what it needs of the
	// connection (flushes, trailers) a converted request's writer gives
	// over HTTP/1.1 as well.
	r.ProtoMajor, r.ProtoMinor = 2, 0
	p.srv.ServeHTTP(w, r)
}

// Stop ends the calls in flight.
func (p *Proxy) Stop() { p.srv.Stop() }

// unknown answers the methods the server does not serve itself: the
// proxied ones never reach it (Serve frames them).
func unknown(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	return status.Errorf(codes.Unimplemented, "method %s is not published here", method)
}

// forwardable is md without the keys a gRPC transport owns (content-type,
// grpc-*, pseudo-headers, hop-by-hop): the upstream's own metadata, for
// the client; nil when none is left.
func forwardable(md metadata.MD) metadata.MD {
	var out metadata.MD
	for k, v := range md {
		if !rpcstatus.ReservedMetadataKey(k) && rpcstatus.ValidMetadataKey(k) {
			if out == nil {
				out = make(metadata.MD, len(md))
			}
			out[k] = v
		}
	}
	return out
}
