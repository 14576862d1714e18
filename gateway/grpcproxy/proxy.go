package grpcproxy

import (
	"context"
	"errors"
	"io"
	"math"
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
	// Compressor names the compression of the upstream leg ("" none): the
	// client's own request compression, passed through.
	Compressor string
	// MaxResponseBytes bounds one upstream response message; 0: grpc-go's
	// default.
	MaxResponseBytes int
	// Unary makes a unary call through the route's plan (breaker, retries,
	// split); pr receives the endpoint that answered.
	Unary func(ctx context.Context, req, resp *Frame, header, trailer *metadata.MD, pr *peer.Peer, opts ...grpc.CallOption) error
	// Open opens a stream to the upstream.
	Open func(ctx context.Context, desc *grpc.StreamDesc, opts ...grpc.CallOption) (grpc.ClientStream, error)
	// Status is what the client is told of a failed call: the upstream's
	// status unchanged, or the gateway's words on failures it produced.
	Status func(err error) *status.Status
	// Done is told the code the call ended with and the endpoint that
	// served it ("" when none did); may be nil.
	Done func(code codes.Code, endpoint string)
}

type callKey struct{}

// Options configure a Proxy.
type Options struct {
	// MaxRequestBytes bounds one request message after decompression
	// (the gateway's max_body_bytes); 0: 4 MiB.
	MaxRequestBytes int
	// Register adds services the proxy serves itself (reflection) to its
	// server; nil: none.
	Register func(grpc.ServiceRegistrar)
}

// Proxy serves native gRPC requests: grpc-go's server reads the client's
// frames, deadline and compression, and every method it does not serve
// itself is forwarded, frame by frame, as the request's Call says. Safe
// for concurrent use.
type Proxy struct{ srv *grpc.Server }

// New builds a proxy.
func New(o Options) *Proxy {
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 4 << 20
	}
	p := &Proxy{}
	p.srv = grpc.NewServer(
		grpc.ForceServerCodecV2(frameCodec{}),
		grpc.UnknownServiceHandler(p.forward),
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
// the proxy's own services (the others are UNIMPLEMENTED).
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, c *Call) {
	r = r.WithContext(context.WithValue(r.Context(), callKey{}, c))
	// grpc-go's handler transport insists on HTTP/2; what it needs of the
	// connection (flushes, trailers) a converted request's writer gives
	// over HTTP/1.1 as well.
	r.ProtoMajor, r.ProtoMinor = 2, 0
	p.srv.ServeHTTP(w, r)
}

// Stop ends the calls in flight.
func (p *Proxy) Stop() { p.srv.Stop() }

// forward is the server's handler for methods it does not serve itself.
func (p *Proxy) forward(_ any, ss grpc.ServerStream) error {
	c, _ := ss.Context().Value(callKey{}).(*Call)
	method, _ := grpc.MethodFromServerStream(ss)
	if c == nil || c.Method != method {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ss.Context(), c.MD))
	defer cancel()
	if c.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, c.Timeout)
		defer stop()
	}
	opts := []grpc.CallOption{grpc.ForceCodecV2(frameCodec{})}
	if c.MaxResponseBytes > 0 {
		opts = append(opts, grpc.MaxCallRecvMsgSize(c.MaxResponseBytes))
	}
	if c.Compressor != "" && c.Compressor != "identity" {
		opts = append(opts, grpc.UseCompressor(c.Compressor))
	}
	if !c.ClientStreams && !c.ServerStreams {
		return c.unary(ctx, ss, opts)
	}
	return c.stream(ctx, cancel, ss, opts)
}

// unary forwards one request message and its one response.
func (c *Call) unary(ctx context.Context, ss grpc.ServerStream, opts []grpc.CallOption) error {
	req := new(Frame)
	if err := ss.RecvMsg(req); err != nil {
		return c.end(err, "")
	}
	var resp Frame
	var header, trailer metadata.MD
	var pr peer.Peer
	err := c.Unary(ctx, req, &resp, &header, &trailer, &pr, opts...)
	endpoint := ""
	if pr.Addr != nil {
		endpoint = pr.Addr.String()
	}
	if md := forwardable(header); len(md) > 0 {
		_ = ss.SetHeader(md)
	}
	ss.SetTrailer(forwardable(trailer))
	if err != nil {
		return c.end(c.Status(err).Err(), endpoint)
	}
	if err := ss.SendMsg(&resp); err != nil {
		return c.end(err, endpoint)
	}
	return c.end(nil, endpoint)
}

// stream forwards messages both ways until the upstream ends the call
// (its status and trailers are the client's) or the client goes away
// (which cancels the upstream stream).
func (c *Call) stream(ctx context.Context, cancel context.CancelFunc, ss grpc.ServerStream, opts []grpc.CallOption) error {
	var pr peer.Peer
	cs, err := c.Open(ctx, &grpc.StreamDesc{ClientStreams: c.ClientStreams, ServerStreams: c.ServerStreams},
		append(opts, grpc.Peer(&pr))...)
	if err != nil {
		return c.end(c.Status(err).Err(), "")
	}
	sendErr := make(chan error, 1)
	go func() {
		for {
			f := new(Frame)
			err := ss.RecvMsg(f)
			if errors.Is(err, io.EOF) {
				_ = cs.CloseSend()
				sendErr <- nil
				return
			}
			if err != nil {
				sendErr <- err
				cancel() // the client's side broke: so does the upstream call
				return
			}
			if cs.SendMsg(f) != nil {
				sendErr <- nil // the upstream ended the call: RecvMsg says how
				return
			}
		}
	}()
	headerSent := false
	for {
		f := new(Frame)
		err := cs.RecvMsg(f)
		endpoint := ""
		if pr.Addr != nil {
			endpoint = pr.Addr.String()
		}
		if !headerSent {
			headerSent = true
			if md, herr := cs.Header(); herr == nil && len(forwardable(md)) > 0 {
				_ = ss.SendHeader(forwardable(md))
			}
		}
		if err != nil {
			ss.SetTrailer(forwardable(cs.Trailer()))
			if errors.Is(err, io.EOF) {
				return c.end(nil, endpoint)
			}
			select {
			case serr := <-sendErr:
				if serr != nil && ctx.Err() != nil {
					// The client's own stream broke first (a message too
					// large, a reset): that is the status.
					return c.end(serr, endpoint)
				}
			default:
			}
			return c.end(c.Status(err).Err(), endpoint)
		}
		if err := ss.SendMsg(f); err != nil {
			return c.end(err, endpoint)
		}
	}
}

// end reports the call's end and returns err, its status.
func (c *Call) end(err error, endpoint string) error {
	if c.Done != nil {
		c.Done(status.Code(err), endpoint)
	}
	return err
}

// forwardable is md without the keys a gRPC transport owns (content-type,
// grpc-*, pseudo-headers, hop-by-hop): the upstream's own metadata, for
// the client.
func forwardable(md metadata.MD) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		if !rpcstatus.ReservedMetadataKey(k) && rpcstatus.ValidMetadataKey(k) {
			out[k] = v
		}
	}
	return out
}
