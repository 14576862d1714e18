package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ServeHTTP is the request path: match, decode, call, encode. It never waits
// on reflection: routes come from the last table swapped in.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer g.recoverPanic(w, r)
	tbl := g.routes.Load()
	m, found := tbl.Match(r.Method, r.URL.EscapedPath())
	switch found {
	case router.NotFound:
		writeStatus(w, http.StatusNotFound, codes.NotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.EscapedPath()), nil)
		return
	case router.MethodNotAllowed:
		allowed := tbl.Allowed(r.URL.EscapedPath())
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.EscapedPath(), strings.Join(allowed, ", ")), nil)
		return
	}
	rt := m.Value
	b := rt.binding
	if why := rt.up.unavailable(); why != "" {
		writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, why, b)
		return
	}

	body, err := readBody(w, r, g.cfg.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
				fmt.Sprintf("request body exceeds the limit of %d bytes", tooBig.Limit), b)
			return
		}
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "reading request body: "+err.Error(), b)
		return
	}
	req, err := b.DecodeCall(transcode.Request{
		Vars:        m.Vars,
		RawQuery:    r.URL.RawQuery,
		Body:        body,
		ContentType: r.Header.Get("Content-Type"),
	}, g.codec)
	if err != nil {
		var mt *transcode.MediaTypeError
		if errors.As(err, &mt) {
			writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument, mt.Error(), b)
			return
		}
		writeGRPCError(w, err, b)
		return
	}
	md, err := rt.up.headers.Metadata(r, clientIP(r))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), b)
		return
	}
	timeout := rt.up.timeout
	if v := r.Header.Get("Grpc-Timeout"); v != "" {
		d, err := transcode.ParseTimeout(v)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), b)
			return
		}
		if d < timeout {
			timeout = d
		}
	}
	// r.Context() ends when the client goes away, which cancels the call.
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(r.Context(), md), timeout)
	defer cancel()

	resp := b.NewCallResponse(g.codec)
	var header, trailer metadata.MD
	err = rt.conn.Invoke(ctx, b.FullMethod, req, resp, grpc.Header(&header), grpc.Trailer(&trailer), grpc.ForceCodecV2(g.codec))
	transcode.WriteResponseMetadata(w.Header(), header, trailer)
	if err != nil {
		g.writeCallError(w, r, rt, err, timeout)
		return
	}
	out, contentType, err := b.EncodeCallResponse(resp, g.codec)
	if err != nil {
		g.log.Error().Err(err).Str("method", b.FullMethod).Msg("encoding response")
		writeStatus(w, http.StatusInternalServerError, codes.Internal, "the upstream's response could not be encoded as JSON", b)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// writeCallError maps a failed upstream call to the client's answer. The
// gateway's own failures (no endpoint, deadline) name the upstream so the
// caller can tell them from the backend's errors.
func (g *Gateway) writeCallError(w http.ResponseWriter, r *http.Request, rt *route, err error, timeout time.Duration) {
	st := status.Convert(err)
	p := st.Proto()
	switch st.Code() {
	case codes.Unavailable:
		p.Message = fmt.Sprintf("upstream %q unavailable: %s", rt.up.name, st.Message())
	case codes.DeadlineExceeded:
		p.Message = fmt.Sprintf("upstream %q did not answer within %s: %s", rt.up.name, timeout, st.Message())
	case codes.Canceled:
		if r.Context().Err() != nil {
			p.Message = "the client closed the request"
		}
	case codes.Unimplemented:
		// The route exists, so the backend's schema may have moved on:
		// ask for fresh descriptors (rate-limited by the cache).
		g.cache.RequestRefresh(rt.up.name, "UNIMPLEMENTED from "+rt.binding.FullMethod)
	}
	writeStatusProto(w, transcode.HTTPStatus(st.Code()), p, rt.binding)
}

// recoverPanic turns a panic on the request path into a logged 500 with a
// google.rpc.Status body instead of a dropped connection. (If the response
// had already started, net/http ignores the second status line.)
func (g *Gateway) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v) // net/http's own signal to abort the response
	}
	g.log.Error().Str("method", r.Method).Str("path", r.URL.EscapedPath()).
		Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("panic serving request")
	writeStatus(w, http.StatusInternalServerError, codes.Internal, "internal error in the gateway; it has been logged", nil)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeGRPCError answers with err's gRPC status (INTERNAL when err carries
// none).
func writeGRPCError(w http.ResponseWriter, err error, b *transcode.Binding) {
	st := status.Convert(err)
	writeStatusProto(w, transcode.HTTPStatus(st.Code()), st.Proto(), b)
}

func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string, b *transcode.Binding) {
	writeStatusProto(w, httpStatus, &spb.Status{Code: int32(code), Message: msg}, b)
}

// writeStatusProto writes the one error shape: a google.rpc.Status JSON body.
// Details resolve through the route's upstream types when there is a route.
func writeStatusProto(w http.ResponseWriter, httpStatus int, st *spb.Status, b *transcode.Binding) {
	var body []byte
	if b != nil {
		body = b.EncodeError(st)
	} else {
		body = transcode.EncodeStatus(st, nil)
	}
	h := w.Header()
	h.Set("Content-Type", transcode.JSONContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
