package stream

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/compat"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Observer records a route's streams: StreamOpened when the upstream is
// asked for a stream, StreamEnded with the code the client was told.
type Observer interface {
	StreamOpened()
	StreamEnded(code codes.Code)
}

// Call is one streaming call as the engine hands it over: the route's
// binding and connection, the limits of its upstream, and the engine's own
// ways to decode a request, write a response and phrase an upstream's
// status. The engine has already applied the route's policies, checked the
// per-client stream limit and the WebSocket handshake, and computed the
// deadline.
type Call struct {
	Request  *http.Request
	Binding  *transcode.Binding
	Conn     grpc.ClientConnInterface
	Limits   *Limits
	Vars     []string      // path variables
	Metadata metadata.MD   // outgoing metadata
	Deadline time.Duration // the stream's maximum duration; 0: none
	// Codec carries server-stream messages as wire bytes for the fast
	// path; nil: dynamic messages.
	Codec    *transcode.Codec
	Observer Observer
	Log      *zerolog.Logger
	// Compat is the upstream's wire dialect: with compat.GRPCGateway a
	// server stream that fails before its first message answers
	// {"error": Status}, and HttpBody chunks end with a newline.
	Compat compat.Mode

	// DecodeRequest decodes the single request of a server-streaming
	// call, answering the client itself when it cannot.
	DecodeRequest func(w http.ResponseWriter) (proto.Message, bool)
	// WriteResponse writes the single response of a client-streaming call.
	WriteResponse func(w http.ResponseWriter, resp any)
	// UpstreamStatus is what the client is told of a status the upstream
	// (or the connection to it) ended the call with.
	UpstreamStatus func(st *status.Status) *spb.Status
}

// streamCall is one streaming call in flight: the upstream stream, the
// context that ends it (with a cause saying which limit, if one did) and the
// idle watchdog. Owned by the handler goroutine; the fields shared with the
// request-reading goroutine are the stream (gRPC allows one sender and one
// receiver at once), cancel and touch, which are safe for concurrent use.
type streamCall struct {
	*Call
	r   *http.Request
	lim *Limits

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

// Serve runs a streaming call: over WebSocket when the client asks to
// upgrade, otherwise over plain HTTP with request messages read from the
// body as they arrive and response messages written in the framing the
// client's Accept header picks. tr tracks it until it ends.
func Serve(w http.ResponseWriter, c *Call, tr *Tracker) {
	// The stream's context: the client going away (the request's), the
	// deadline and every limit end it, each with a cause that becomes the
	// status the client reads.
	ctx, cancel := context.WithCancelCause(metadata.NewOutgoingContext(c.Request.Context(), c.Metadata))
	defer cancel(nil)
	defer tr.Track(cancel)()
	if c.Deadline > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, c.Deadline, status.Errorf(codes.DeadlineExceeded,
			"the stream reached its maximum duration of %s", c.Deadline))
		defer stop()
	}
	s := &streamCall{Call: c, r: c.Request, lim: c.Limits, ctx: ctx, cancel: cancel}
	s.touch()
	if idle := c.Limits.IdleTimeout; idle > 0 {
		// Created stopped and then started, so the timer's goroutine sees
		// s.idleTimer set.
		s.idleTimer = time.AfterFunc(time.Hour, s.checkIdle)
		s.idleTimer.Reset(idle)
		defer s.idleTimer.Stop()
	}
	defer func() {
		if s.opened {
			c.Observer.StreamEnded(s.code)
		}
	}()
	if policy.WebSocketUpgrade(c.Request) {
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
	idle := s.lim.IdleTimeout
	since := time.Since(time.Unix(0, s.lastActivity.Load()))
	if since < idle {
		s.idleTimer.Reset(idle - since)
		return
	}
	s.cancel(status.Errorf(codes.DeadlineExceeded, "the stream was idle for %s (no message either way); the limit is streams.idle_timeout", idle))
}

// open starts the upstream stream.
func (s *streamCall) open() error {
	b := s.Binding
	var opts []grpc.CallOption
	if n := s.lim.MaxMessageBytes; n > 0 {
		// The response side of the per-message limit: gRPC refuses a larger
		// message with RESOURCE_EXHAUSTED before it is decoded.
		opts = append(opts, grpc.MaxCallRecvMsgSize(int(min(n, int64(math.MaxInt32)))))
	}
	if s.Codec != nil {
		// Server-stream messages arrive as wire bytes for the fast path
		// (StreamEncoder.NewResponse); dynamic messages pass through.
		opts = append(opts, grpc.ForceCodecV2(s.Codec))
	}
	s.opened = true
	s.Observer.StreamOpened()
	cs, err := s.Conn.NewStream(s.ctx, &grpc.StreamDesc{
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
		return status.Newf(codes.DeadlineExceeded, "the stream reached its maximum duration of %s", s.Deadline).Proto()
	}
	return s.UpstreamStatus(st)
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

// ClearDeadlines lifts the server's read and write timeouts for a stream,
// which may rightly last far longer; its own idle timeout and maximum
// duration bound it instead. Errors mean the connection cannot set
// deadlines (a test recorder), which leaves nothing to clear.
func ClearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// writeStatus answers with a status without details.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	rpcstatus.WriteStatus(w, httpStatus, code, msg)
}

// writeStatusProto writes st in the one error shape, its details resolved
// through the route's upstream types.
func writeStatusProto(w http.ResponseWriter, st *spb.Status, b *transcode.Binding) {
	rpcstatus.Challenge(w.Header(), st)
	rpcstatus.Write(w, rpcstatus.HTTPStatus(codes.Code(st.GetCode())), codes.Code(st.GetCode()), b.EncodeError(st))
}
