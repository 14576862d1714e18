package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// streamCall is one streaming call in flight: the upstream stream, the
// context that ends it (with a cause saying which limit, if one did) and the
// idle watchdog. Owned by the handler goroutine; the fields shared with the
// request-reading goroutine are the stream (gRPC allows one sender and one
// receiver at once), cancel and touch, which are safe for concurrent use.
type streamCall struct {
	g        *Gateway
	r        *http.Request
	rt       *route
	lim      *StreamLimits
	vars     []string
	deadline time.Duration

	ctx    context.Context
	cancel context.CancelCauseFunc
	cs     grpc.ClientStream

	// opened and code are what the stream's end is counted with: whether
	// the upstream was asked for a stream, and the code of the status the
	// client was told (OK unless status was called).
	opened bool
	code   codes.Code

	lastActivity atomic.Int64 // unix nanoseconds of the last message either way
	idleTimer    *time.Timer
}

// serveStream serves a route whose method streams on either side: over
// WebSocket when the client asks to upgrade, otherwise over plain HTTP with
// request messages read from the body as they arrive and response messages
// written in the framing the client's Accept header picks.
func (g *Gateway) serveStream(w http.ResponseWriter, r *http.Request, rt *route, vars []string) {
	b := rt.binding
	clearDeadlines(w) // a stream outlives the server's read and write timeouts
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
		g.obs.Rejected(rejectStreamLimit)
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
	g.pol.Identity(md, info)
	deadline, _, err := transcode.CallTimeout(r.Header.Get("Grpc-Timeout"), time.Duration(lim.MaxDuration),
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

	// The stream's context: the client going away (r.Context()), the
	// deadline and every limit end it, each with a cause that becomes the
	// status the client reads.
	ctx, cancel := context.WithCancelCause(metadata.NewOutgoingContext(r.Context(), md))
	defer cancel(nil)
	defer g.streams.track(cancel)()
	if deadline > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, deadline, status.Errorf(codes.DeadlineExceeded,
			"the stream reached its maximum duration of %s", deadline))
		defer stop()
	}
	s := &streamCall{g: g, r: r, rt: rt, lim: lim, vars: vars, deadline: deadline, ctx: ctx, cancel: cancel}
	s.touch()
	if idle := time.Duration(lim.IdleTimeout); idle > 0 {
		// Created stopped and then started, so the timer's goroutine sees
		// s.idleTimer set.
		s.idleTimer = time.AfterFunc(time.Hour, s.checkIdle)
		s.idleTimer.Reset(idle)
		defer s.idleTimer.Stop()
	}
	defer func() {
		if s.opened {
			rt.obs.StreamEnded(s.code)
		}
	}()
	if ws {
		s.serveWebSocket(w)
		return
	}
	s.serveHTTP(w)
}

// touch records a message passing either way, for the idle timeout.
func (s *streamCall) touch() { s.lastActivity.Store(time.Now().UnixNano()) }

// checkIdle runs on the idle timer: it ends the stream when no message has
// passed for idle_timeout, or waits for the rest of it.
func (s *streamCall) checkIdle() {
	idle := time.Duration(s.lim.IdleTimeout)
	since := time.Since(time.Unix(0, s.lastActivity.Load()))
	if since < idle {
		s.idleTimer.Reset(idle - since)
		return
	}
	s.cancel(status.Errorf(codes.DeadlineExceeded, "the stream was idle for %s (no message either way); the limit is streams.idle_timeout", idle))
}

// open starts the upstream stream.
func (s *streamCall) open() error {
	b := s.rt.binding
	var opts []grpc.CallOption
	if n := s.lim.MaxMessageBytes; n > 0 {
		// The response side of the per-message limit: gRPC refuses a larger
		// message with RESOURCE_EXHAUSTED before it is decoded.
		opts = append(opts, grpc.MaxCallRecvMsgSize(int(min(n, int64(math.MaxInt32)))))
	}
	if s.g.codec != nil {
		// Server-stream messages arrive as wire bytes for the fast path
		// (StreamEncoder.NewResponse); dynamic messages pass through.
		opts = append(opts, grpc.ForceCodecV2(s.g.codec))
	}
	s.opened = true
	s.rt.obs.StreamOpened()
	cs, err := s.rt.conn.NewStream(s.ctx, &grpc.StreamDesc{
		StreamName:    string(b.Method.Name()),
		ServerStreams: b.ServerStreaming,
		ClientStreams: b.ClientStreaming,
	}, b.FullMethod, opts...)
	s.cs = cs
	return err
}

// status is what the client is told about a stream that ended with err,
// recorded as the code the stream ended with.
func (s *streamCall) status(err error) *spb.Status {
	st := s.endStatus(err)
	s.code = codes.Code(st.GetCode())
	return st
}

// endStatus is the gateway's own reason when it ended the stream (a limit,
// a bad request message), otherwise the upstream's status as for unary
// calls.
func (s *streamCall) endStatus(err error) *spb.Status {
	if s.ctx.Err() != nil {
		if cause := context.Cause(s.ctx); cause != nil {
			if st, ok := status.FromError(cause); ok {
				return st.Proto()
			}
		}
	}
	st := status.Convert(err)
	if transcode.RecvTooLarge(st, s.lim.MaxMessageBytes) {
		return status.Newf(codes.ResourceExhausted,
			"a response message exceeds the limit of %d bytes per message (streams.max_message_bytes): %s",
			s.lim.MaxMessageBytes, st.Message()).Proto()
	}
	if dl, ok := s.ctx.Deadline(); ok && st.Code() == codes.DeadlineExceeded && time.Until(dl) < 50*time.Millisecond {
		// The backend enforces the propagated deadline too and may report
		// it a moment before the gateway's own timer fires.
		return status.Newf(codes.DeadlineExceeded, "the stream reached its maximum duration of %s", s.deadline).Proto()
	}
	return s.g.callStatus(s.r, s.rt, st, s.deadline)
}

// sendFrom feeds the upstream the request messages next returns, then closes
// the sending side. A bad request message ends the whole call with the
// decoding error as its status. It runs on its own goroutine.
func (s *streamCall) sendFrom(next func() (proto.Message, error)) {
	for {
		msg, err := next()
		if errors.Is(err, io.EOF) {
			_ = s.cs.CloseSend()
			return
		}
		if err != nil {
			if _, ok := status.FromError(err); !ok {
				err = status.Errorf(codes.InvalidArgument, "reading the request body: %v", err)
			}
			s.cancel(err)
			return
		}
		s.touch()
		if err := s.cs.SendMsg(msg); err != nil {
			return // the stream is over; the receiving side reports why
		}
	}
}

// serveHTTP runs the call over plain HTTP: NDJSON (or a JSON array, or raw
// bytes for google.api.HttpBody) in, the negotiated framing out. With
// HTTP/1.1, bidi needs a client that sends and reads at once; HTTP/2 clients
// always can.
func (s *streamCall) serveHTTP(w http.ResponseWriter) {
	b := s.rt.binding
	r := s.r
	var next func() (proto.Message, error)
	if b.ClientStreaming {
		dec, err := b.NewMessageDecoder(r.Body, r.Header.Get("Content-Type"), s.vars, r.URL.RawQuery, s.lim.MaxMessageBytes)
		if err != nil {
			writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument,
				err.Error()+" or application/x-ndjson: one message per line", b)
			return
		}
		next = dec.Next
		if b.ServerStreaming {
			// Bidi: read request messages while responses are written
			// (HTTP/1.1 otherwise drains the body at the first response
			// byte; HTTP/2 is full duplex anyway).
			_ = http.NewResponseController(w).EnableFullDuplex()
		}
	} else {
		req, ok := s.g.decodeRequest(w, r, b, s.vars)
		if !ok {
			return
		}
		sent := false
		next = func() (proto.Message, error) {
			if sent {
				return nil, io.EOF
			}
			sent = true
			return req, nil
		}
	}
	if err := s.open(); err != nil {
		st := s.status(err)
		writeStatusProto(w, rpcstatus.HTTPStatus(codes.Code(st.GetCode())), st, b)
		return
	}
	bodyDone, sendDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sendDone)
		s.sendFrom(func() (proto.Message, error) {
			m, err := next()
			if err != nil {
				close(bodyDone)
			}
			return m, err
		})
	}()
	if b.ClientStreaming {
		defer s.endBodyRead(w, bodyDone, sendDone)
	}
	if b.ServerStreaming {
		s.writeFramed(w)
		return
	}
	s.writeSingle(w)
}

// endBodyRead ends the reading of a client stream's body when the call is
// over, and waits for the goroutine that reads it, which must not touch the
// request once the handler has returned. A client that has not finished
// its body (it stopped sending, or the call ended first) leaves that
// goroutine blocked in a Read that holds the body's lock, and net/http
// cannot send the answer (its header needs that lock) until the Read
// returns: a read deadline in the past ends it. The stream's cancel ends a
// SendMsg waiting on flow control.
func (s *streamCall) endBodyRead(w http.ResponseWriter, bodyDone, sendDone <-chan struct{}) {
	select {
	case <-bodyDone:
	default:
		if err := http.NewResponseController(w).SetReadDeadline(time.Now()); err != nil {
			s.g.log.Warn().Err(err).Msg("cannot end the reading of a stream's request body")
			s.cancel(nil)
			return // waiting could be forever
		}
	}
	s.cancel(nil)
	<-sendDone
}

// writeSingle answers a client stream's one response as a unary call's.
func (s *streamCall) writeSingle(w http.ResponseWriter) {
	b := s.rt.binding
	resp := b.NewResponse()
	err := s.cs.RecvMsg(resp)
	hdr, _ := s.cs.Header()
	transcode.WriteResponseMetadata(w.Header(), hdr, s.cs.Trailer())
	if err != nil {
		st := s.status(err)
		writeStatusProto(w, rpcstatus.HTTPStatus(codes.Code(st.GetCode())), st, b)
		return
	}
	s.g.writeResponse(w, s.rt.up.name, b, resp)
}

// received is one result of reading the upstream stream.
type received struct {
	msg any   // what the encoder's NewResponse returned: a message or wire bytes
	err error // io.EOF after the last message
}

// receive reads the upstream stream into out until it ends, and stops when
// gone closes (the writer gave up). out's capacity is the only read-ahead:
// past it this goroutine waits, RecvMsg is not called, and gRPC flow control
// stops the backend. So the gateway holds at most buffer_messages messages
// (plus the flow-control window) per stream, however slow the client.
func (s *streamCall) receive(out chan<- received, gone <-chan struct{}, enc *transcode.StreamEncoder) {
	for {
		m := enc.NewResponse(s.g.codec)
		err := s.cs.RecvMsg(m)
		if err == nil {
			s.touch()
		}
		select {
		case out <- received{msg: m, err: err}:
		case <-gone:
			return
		}
		if err != nil {
			return
		}
	}
}

// writeFramed writes a server stream in the framing the client negotiated,
// flushing as messages arrive: after the first, then after each one that
// has no other queued behind it, so a burst goes out in a few large writes
// rather than one write per message. The status line waits for the first
// message (or the end, or an SSE keep-alive), so that a call that fails at
// once still answers with its own HTTP status and a plain Status body.
func (s *streamCall) writeFramed(w http.ResponseWriter) {
	b := s.rt.binding
	framing, contentType := b.NegotiateFraming(s.r.Header.Get("Accept"), s.lim.framingFor(string(b.Method.FullName())))
	enc := b.NewStreamEncoder(framing)
	rc := http.NewResponseController(w)
	// HTTP/2 carries trailers in every response (RFC 9113 §8.1), so its
	// clients get them unasked. Not for a raw download, though: there the
	// absence of trailers is what makes a failure abort the transfer.
	trailers := transcode.AcceptsTrailers(s.r.Header.Values("Te")) || (s.r.ProtoMajor == 2 && framing != transcode.FramingRaw)

	msgs := make(chan received, max(s.lim.BufferMessages, 0))
	gone := make(chan struct{})
	defer close(gone)
	go s.receive(msgs, gone, enc)

	// Keep-alives go out only when nothing else was written for a
	// keepalive interval: each write pushes the next one back.
	var tick <-chan time.Time
	var ticker *time.Ticker
	if ka := enc.KeepAlive(); ka != nil && s.lim.KeepAlive > 0 {
		ticker = time.NewTicker(time.Duration(s.lim.KeepAlive))
		defer ticker.Stop()
		tick = ticker.C
	}
	committed := false
	commit := func(first proto.Message, withHeader bool) {
		committed = true
		h := w.Header()
		if withHeader {
			if md, err := s.cs.Header(); err == nil {
				transcode.WriteResponseMetadata(h, md, nil)
			}
		}
		if framing == transcode.FramingRaw {
			contentType = "application/octet-stream"
			if first != nil {
				contentType = enc.RawContentType(first)
			}
		}
		h.Set("Content-Type", contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		if framing == transcode.FramingSSE {
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer the stream
		}
		w.WriteHeader(http.StatusOK)
	}
	// send writes buf, and sends what was written to the client when flush
	// is set. A client that does not take it within idle_timeout is
	// dropped: the write would hold the stream open (and its buffers)
	// forever otherwise. The deadline is set by the first write after a
	// flush, which is when the client can start lagging.
	flushed := true
	send := func(buf []byte, flush bool) bool {
		if idle := time.Duration(s.lim.IdleTimeout); idle > 0 && flushed {
			_ = rc.SetWriteDeadline(time.Now().Add(idle))
		}
		flushed = false
		if _, err := w.Write(buf); err != nil {
			s.cancel(status.Errorf(codes.Canceled, "the client stopped reading the stream: %v", err))
			return false
		}
		if !flush {
			return true
		}
		flushed = true
		if err := rc.Flush(); err != nil {
			s.cancel(status.Errorf(codes.Canceled, "the client stopped reading the stream: %v", err))
			return false
		}
		if ticker != nil {
			ticker.Reset(time.Duration(s.lim.KeepAlive))
		}
		return true
	}
	write := func(buf []byte) bool { return send(buf, true) }
	var buf []byte
	sent := 0
	for {
		select {
		case <-tick:
			if !committed {
				commit(nil, false)
			}
			if !write(enc.KeepAlive()) {
				return
			}
			continue
		case it := <-msgs:
			if it.err == nil {
				if !committed {
					first, _ := it.msg.(proto.Message) // a raw stream's, for its content type
					commit(first, true)
				}
				var err error
				if buf, err = enc.AppendReceived(buf[:0], it.msg); err != nil {
					s.g.log.Error().Err(err).Str("method", b.FullMethod).Msg("encoding stream message")
					s.cancel(status.Error(codes.Internal, "a message of the upstream's stream could not be encoded as JSON"))
					continue // the receiver reports the end with that status
				}
				// The first message always goes out at once: it fixes the
				// chunked encoding that trailers and an abort rely on.
				sent++
				if !send(buf, sent == 1 || len(msgs) == 0) {
					return
				}
				continue
			}
			s.finish(w, enc, it.err, committed, commit, trailers, write)
			return
		}
	}
}

// finish ends a framed stream: the success end or the error in the
// framing, the status and trailing metadata as HTTP trailers when the client
// accepts them. A raw (HttpBody) stream that failed without trailers has no
// way to say so in-band: the transfer is aborted, so the client sees a
// broken download rather than a complete-looking file.
func (s *streamCall) finish(w http.ResponseWriter, enc *transcode.StreamEncoder, err error,
	committed bool, commit func(proto.Message, bool), trailers bool, write func([]byte) bool) {
	b := s.rt.binding
	var st *spb.Status
	if !errors.Is(err, io.EOF) {
		st = s.status(err)
		if !committed {
			// Nothing was sent: a plain error answer with its own status.
			if md, herr := s.cs.Header(); herr == nil {
				transcode.WriteResponseMetadata(w.Header(), md, s.cs.Trailer())
			}
			writeStatusProto(w, rpcstatus.HTTPStatus(codes.Code(st.GetCode())), st, b)
			return
		}
	} else if !committed {
		commit(nil, true)
	}
	if trailers {
		h := w.Header()
		code, msg := int32(0), ""
		if st != nil {
			code, msg = st.GetCode(), st.GetMessage()
		}
		h.Set(http.TrailerPrefix+"Grpc-Status", strconv.Itoa(int(code)))
		if msg != "" {
			h.Set(http.TrailerPrefix+"Grpc-Message", msg)
		}
		tr := http.Header{}
		transcode.WriteResponseMetadata(tr, nil, s.cs.Trailer())
		for k, v := range tr {
			h[http.TrailerPrefix+k] = v
		}
	}
	if st == nil {
		write(enc.AppendEnd(nil))
		return
	}
	if enc.Framing() == transcode.FramingRaw {
		if !trailers {
			// What the upstream sent before failing reaches the client
			// first (writes may have been batched); then the abort.
			_ = http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}
		return
	}
	write(enc.AppendError(nil, st))
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

// clearDeadlines lifts the server's read and write timeouts for a stream,
// which may rightly last far longer; its own idle timeout and maximum
// duration bound it instead. Errors mean the connection cannot set
// deadlines (a test recorder), which leaves nothing to clear.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}
