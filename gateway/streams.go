package gateway

import (
	"fmt"
	"net/http"

	"github.com/refract-gateway/refract/gateway/observe"
	"github.com/refract-gateway/refract/gateway/stream"
	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// serveStream serves a route whose method streams on either side, after
// the checks that need the engine: the per-client stream limit, the
// outgoing metadata, the deadline and a WebSocket's origin.
func (g *Gateway) serveStream(w http.ResponseWriter, r *http.Request, rt *route, vars []string) {
	b := rt.binding
	stream.ClearDeadlines(w) // a stream outlives the server's read and write timeouts
	ws := policy.WebSocketUpgrade(r)
	if ws && !b.ClientStreaming {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf(
			"%s does not stream requests: WebSocket serves client-streaming and bidi methods; read server streams as NDJSON or text/event-stream",
			b.Method.FullName()), b)
		return
	}
	lim := &rt.up.o.Streams
	info := policy.InfoFrom(r.Context())
	ip := policy.ClientAddrString(r, info) // trusted-proxy aware: see the client_ip policy
	slot := rt.up.name + " " + ip
	if !g.streams.Acquire(slot, lim.MaxPerClient) {
		g.obs.Rejected(observe.RejectStreamLimit)
		writeStatus(w, http.StatusTooManyRequests, codes.ResourceExhausted, fmt.Sprintf(
			"too many concurrent streams from %s to upstream %q: the limit is %d; close one first", ip, rt.up.name, lim.MaxPerClient), b)
		return
	}
	defer g.streams.Release(slot)

	md, err := rt.up.headers.Metadata(r, ip)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), b)
		return
	}
	rt.xf.Metadata(md, r, info)
	g.pol.Identity(md, info)
	deadline, _, err := transcode.CallTimeout(r.Header.Get("Grpc-Timeout"), lim.MaxDuration,
		g.limits.MinClientTimeout, g.limits.MaxClientTimeout)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error(), b)
		return
	}
	if ws {
		if msg := policy.CheckWebSocketHandshake(r, lim.WebSocketOrigins); msg != "" {
			writeStatus(w, http.StatusForbidden, codes.PermissionDenied, msg, b)
			return
		}
	}
	stream.Serve(w, &stream.Call{
		Request: r, Binding: b, Conn: rt.conn, Limits: lim, Vars: vars, Metadata: md, Deadline: deadline,
		Codec: g.codec, Observer: rt.obs, Log: &g.log, Compat: rt.up.o.Compat,
		DecodeRequest: func(w http.ResponseWriter) (proto.Message, bool) { return g.decodeRequest(w, r, b, vars) },
		WriteResponse: func(w http.ResponseWriter, resp any) {
			g.writeResponse(w, rt.up.name, b, resp, http.StatusOK, false, nil, nil)
		},
		UpstreamStatus: func(st *status.Status) *spb.Status { return g.callStatus(r, rt, st, deadline) },
	}, &g.streams)
}

// matchWebSocket finds the route a WebSocket handshake (always a GET) is
// meant for: the client-streaming route at the same path under another
// method, e.g. the default POST route of a bidi method; failing that, a
// server-streaming one, which serveStream refuses with an explanation.
func matchWebSocket(tbl *router.Table[*route], path string) (router.Match[*route], bool) {
	var fallback router.Match[*route]
	found := false
	for _, method := range tbl.Allowed(path) {
		m, st := tbl.Match(method, path)
		if st != router.Found {
			continue
		}
		if m.Value.binding.ClientStreaming {
			return m, true
		}
		if m.Value.binding.ServerStreaming && !found {
			fallback, found = m, true
		}
	}
	return fallback, found
}

// StreamsOpen is the number of streams in flight (HTTP and WebSocket).
// Safe for concurrent use.
func (g *Gateway) StreamsOpen() int { return g.streams.Count() }

// EndStreams ends every stream in flight, and any opened from now on,
// with cause (a gRPC status error the clients read): a stream has no
// natural end a shutdown or a reload could wait for. Safe for concurrent
// use.
func (g *Gateway) EndStreams(cause error) { g.streams.EndAll(cause) }
