package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/refract-gateway/refract/gateway/upstream/leanunary"

	"github.com/refract-gateway/refract/gateway/transform"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/bodyformat"
	"github.com/refract-gateway/refract/transcode/httpmeta"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// serveUnary makes a unary call for a matched route: decode, call,
// encode. vars are the route's path variables.
func (g *Gateway) serveUnary(w http.ResponseWriter, r *http.Request, rt *route, vars []string) {
	b := rt.binding
	if rt.bodies != nil { // opted into body formats: XML answers for clients that prefer them
		if w = rt.bodies.Answer(w, r); w == nil {
			return
		}
		defer bodyformat.Finish(w)
	} else if notAcceptable(w, r, b) {
		return
	}
	var cacheKey string
	if rt.cache != nil {
		var hit bool
		if cacheKey, hit = g.serveCached(w, r, rt); hit {
			return
		}
	}
	// Edge validation reads a message: validated routes decode into one
	// instead of wire bytes.
	req, ok := g.decodeCall(w, r, b, rt.bodies, vars, rt.validator == nil)
	if !ok {
		return
	}
	if req, ok = rt.xf.Request(w, req, r, g.codec); !ok { // before validation: the rules hold for what is sent
		return
	}
	wm, isWire := req.(*transcode.WireMessage)
	rt.obs.Transcoded(isWire)
	if isWire {
		defer wm.Release() // after the call: a retry sends the bytes again
	} else if g.rejectInvalid(w, rt, req.(proto.Message)) {
		return
	}
	info := policy.InfoFrom(r.Context())
	md, err := rt.up.headers.MetadataInto(g.mds.Get(), r, policy.ClientAddrString(r, info))
	defer g.mds.Put(md) // deferred before cancel: runs once the call is over
	if err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), b)
		return
	}
	rt.xf.Metadata(md, r, info)
	g.pol.Identity(md, info)
	timeout, clientDeadline, err := transcode.CallTimeout(r.Header.Get("Grpc-Timeout"), rt.call.Deadline(rt.up.timeout),
		g.limits.MinClientTimeout, g.limits.MaxClientTimeout)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), b)
		return
	}
	// r.Context() ends when the client goes away, which cancels the call.
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(r.Context(), md), timeout)
	defer cancel()

	resp := b.NewCallResponse(g.codec)
	// What the call fills in and its options, in one allocation (they
	// escape to grpc-go).
	out := new(struct {
		header, trailer metadata.MD
		pr              peer.Peer
		opts            [7]grpc.CallOption
	})
	opts := append(append(out.opts[:0], grpc.Header(&out.header), grpc.Trailer(&out.trailer), grpc.Peer(&out.pr), leanunary.Metadata(md)), rt.up.unaryOpts...)
	err = rt.invoke(ctx, r, clientDeadline, req, resp, &out.pr, opts...)
	if info != nil && out.pr.Addr != nil {
		info.Endpoint = out.pr.Addr
	}
	w = rt.up.o.Compat.UnaryWriter(w, r, out.header, out.trailer)
	if err != nil {
		g.writeCallError(w, r, rt, err, timeout)
		return
	}
	status := rt.up.o.Response.Apply(w.Header(), out.header, out.trailer)
	if resp, ok = rt.xf.Response(w, resp, g.codec); !ok {
		return
	}
	body := g.writeResponse(w, rt.up.name, b, resp, status, rt.etag, r, rt.xf)
	if cacheKey != "" && body != nil {
		rt.cache.Save(r.Context(), r, cacheKey, status, w.Header(), out.header, out.trailer, body)
	}
}

// decodeRequest builds the dynamic request message of a stream whose
// request does not stream.
func (g *Gateway) decodeRequest(w http.ResponseWriter, r *http.Request, b *transcode.Binding, vars []string) (proto.Message, bool) {
	req, ok := g.decodeCall(w, r, b, nil, vars, false)
	if !ok {
		return nil, false
	}
	return req.(proto.Message), true
}

// decodeCall reads the body and builds the request of a call
// whose request does not stream (wire bytes for the codec when wire, else a
// dynamic message), answering the error itself when it
// cannot. bf, when not nil, turns form and XML bodies into JSON first.
func (g *Gateway) decodeCall(w http.ResponseWriter, r *http.Request, b *transcode.Binding, bf *bodyformat.Route, vars []string, wire bool) (any, bool) {
	buf := g.bodies.Get()
	body, err := policy.ReadBodyInto(*buf, w, r, g.limits.BodyBytes, g.limits.BodyPace)
	if err != nil {
		policy.WriteBodyError(w, r, err)
		return nil, false
	}
	in := transcode.Request{
		Vars:        vars,
		RawQuery:    r.URL.RawQuery,
		Body:        body,
		ContentType: r.Header.Get("Content-Type"),
	}
	if bf != nil && !bf.Request(w, r, &in) {
		return nil, false
	}
	var req any
	if wire {
		req, err = b.DecodeCall(in, g.codec)
	} else {
		req, err = b.DecodeRequest(in)
	}
	if err != nil {
		var mt *transcode.MediaTypeError
		if errors.As(err, &mt) {
			writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument, mt.Error(), b)
			return nil, false
		}
		writeGRPCError(w, err, b)
		return nil, false
	}
	if _, copied := req.(*transcode.WireMessage); copied {
		g.bodies.Put(buf, body) // the wire bytes hold what the call needs
	}
	return req, true
}

// writeResponse answers with one response of upstream, with status (the
// backend's choice, else 200; no body for 204 or 304): a message, or what
// NewCallResponse returned for a unary call. With etag, a 200 carries an
// ETag (the backend's, else the body's hash) and r's matching
// If-None-Match gets 304. A response that cannot be rendered (malformed
// wire bytes, a string that is not UTF-8) is the upstream's fault: 502.
// It returns the encoded body, nil when it could not be rendered.
func (g *Gateway) writeResponse(w http.ResponseWriter, upstream string, b *transcode.Binding, resp any, status int, etag bool, r *http.Request, xf *transform.Route) []byte {
	out, contentType, err := b.EncodeCallResponse(resp, g.codec)
	if err != nil {
		g.log.Error().Err(err).Str("method", b.FullMethod).Msg("encoding response")
		writeStatus(w, http.StatusBadGateway, codes.Internal, transcode.UnreadableMessage(upstream, b, transcode.EncodingCause(err)), b)
		return nil
	}
	out = xf.Body(out)
	if etag && status == http.StatusOK {
		tag := w.Header().Get("Etag")
		if tag == "" {
			tag = httpmeta.ETag(out)
			w.Header().Set("Etag", tag)
		}
		if httpmeta.NotModified(r, tag) {
			status = http.StatusNotModified
		}
	}
	if status != http.StatusNoContent {
		w.Header().Set("Content-Type", contentType) // on a 304 too: a cache keeps the 200's
	}
	if !httpmeta.BodyAllowed(status) {
		w.WriteHeader(status)
		return out
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out)
	return out
}

// writeCallError maps a failed upstream call to the client's answer. The
// gateway's own failures (no endpoint, deadline) name the upstream so the
// caller can tell them from the backend's errors.
func (g *Gateway) writeCallError(w http.ResponseWriter, r *http.Request, rt *route, err error, timeout time.Duration) {
	if g.callFailed(w, rt, err) || g.responseTooLarge(w, rt, err) {
		return
	}
	st := status.Convert(err)
	httpStatus := rpcstatus.HTTPStatus(st.Code())
	if _, ok := transcode.UnreadableResponse(st); ok {
		httpStatus = http.StatusBadGateway
	}
	p := g.callStatus(r, rt, st, timeout)
	rpcstatus.Challenge(w.Header(), p)
	if httpStatus = rt.xf.Error(w, st.Code(), p.Message, httpStatus); httpStatus == 0 {
		return // answered with the route's error body
	}
	writeStatusProto(w, httpStatus, p, rt.binding)
}

// callStatus is the status a client sees for a failed upstream call.
func (g *Gateway) callStatus(r *http.Request, rt *route, st *status.Status, timeout time.Duration) *spb.Status {
	p := st.Proto()
	// The gateway's words only on its own failures: a status the backend
	// sent (its own UNAVAILABLE, DEADLINE_EXCEEDED) passes unchanged.
	switch st.Code() {
	case codes.Unavailable:
		msg := st.Message()
		if caller, ok := transcode.TransportFailure(msg); ok {
			if info := policy.InfoFrom(r.Context()); info != nil {
				info.Cause = msg
			}
			p.Message = fmt.Sprintf("upstream %q unavailable: %s", rt.up.name, caller)
		}
	case codes.DeadlineExceeded:
		if transcode.LocalDeadline(st.Message()) {
			p.Message = fmt.Sprintf("upstream %q did not answer within %s: %s", rt.up.name, timeout, st.Message())
		}
	case codes.Canceled:
		if r.Context().Err() != nil {
			p.Message = "the client closed the request"
		}
	case codes.Internal:
		if cause, ok := transcode.UnreadableResponse(st); ok {
			p.Message = transcode.UnreadableMessage(rt.up.name, rt.binding, cause)
		}
	case codes.Unimplemented:
		// The route exists, so the backend's schema may have moved on:
		// ask for fresh descriptors (rate-limited by the cache).
		g.cache.RequestRefresh(rt.up.name, "UNIMPLEMENTED from "+rt.binding.FullMethod)
	}
	return p
}

// writeGRPCError answers with err's gRPC status (INTERNAL when err carries
// none).
func writeGRPCError(w http.ResponseWriter, err error, b *transcode.Binding) {
	st := status.Convert(err)
	writeStatusProto(w, rpcstatus.HTTPStatus(st.Code()), st.Proto(), b)
}

// writeStatus answers with a status without details (so b resolves nothing).
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string, b *transcode.Binding) {
	rpcstatus.WriteStatus(w, httpStatus, code, msg)
}

// writeStatusProto writes st in the one error shape. Details resolve
// through the route's upstream types when there is a route (b non-nil).
func writeStatusProto(w http.ResponseWriter, httpStatus int, st *spb.Status, b *transcode.Binding) {
	rpcstatus.Write(w, httpStatus, codes.Code(st.GetCode()), b.EncodeError(st))
}
