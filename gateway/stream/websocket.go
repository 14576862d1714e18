package stream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/refract-gateway/refract/transcode"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// wsCloseTimeout bounds the final frames and the close handshake of a
// WebSocket whose stream has ended, so a peer that went silent cannot hold
// the handler.
const wsCloseTimeout = 5 * time.Second

// WebSocketStatusBase is added to a gRPC code to make the close code of a
// WebSocket whose stream failed: 4000 + code, in the range RFC 6455 leaves
// to applications (4003 is INVALID_ARGUMENT... 4014 UNAVAILABLE). A stream
// that ends OK closes with 1000.
const WebSocketStatusBase = 4000

// serveWebSocket runs a client-streaming or bidi call over a WebSocket: each
// text frame from the client is one request message (JSON); an empty text
// frame closes the sending side; each response is one text frame
// {"result": <message>}. The call's end closes the socket: 1000 when it
// succeeded, otherwise a last {"error": <google.rpc.Status>} frame and the
// close code 4000+code with the status message as reason. Pings keep the
// socket alive and detect peers that went away.
func (s *streamCall) serveWebSocket(w http.ResponseWriter) {
	c, err := websocket.Accept(w, s.r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // origins were checked by policy.CheckWebSocketHandshake
	})
	if err != nil {
		return // Accept answered the handshake's error itself
	}
	defer c.CloseNow()
	if s.lim.MaxMessageBytes > 0 {
		c.SetReadLimit(s.lim.MaxMessageBytes)
	} else {
		c.SetReadLimit(-1)
	}
	// The socket's own context ends only when the handler does: reads and
	// pings must outlive the stream's context so the final frames still go
	// out after a limit cancelled the stream.
	sock, stopSock := context.WithCancel(context.Background())
	defer stopSock()

	if err := s.open(); err != nil {
		s.closeWebSocket(c, s.status(err))
		return
	}
	go s.sendFrom(s.readFrames(sock, c))
	if ka := s.lim.KeepAlive; ka > 0 {
		go s.ping(sock, c, ka)
	}
	b := s.Binding
	for {
		m := b.NewResponse()
		err := s.cs.RecvMsg(m)
		if err != nil {
			var st *spb.Status
			if !errors.Is(err, io.EOF) {
				st = s.status(err)
			}
			s.closeWebSocket(c, st)
			return
		}
		s.touch()
		frame, err := b.EncodeResultFrame(m)
		if err != nil {
			s.Log.Error().Err(err).Str("method", b.FullMethod).Msg("encoding stream message")
			s.cancel(status.Error(codes.Internal, "a message of the upstream's stream could not be encoded as JSON"))
			continue
		}
		if err := s.writeFrame(c, frame); err != nil {
			s.cancel(status.Errorf(codes.Canceled, "the client stopped reading the WebSocket: %v", err))
			return
		}
	}
}

// writeFrame sends one text frame; a peer that does not take it within
// idle_timeout is given up on.
func (s *streamCall) writeFrame(c *websocket.Conn, frame []byte) error {
	ctx := context.Background()
	if idle := s.lim.IdleTimeout; idle > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, idle)
		defer cancel()
	}
	return c.Write(ctx, websocket.MessageText, frame)
}

// readFrames returns the request-message source of a WebSocket: the next
// text frame decoded, io.EOF after an empty frame (the client's end of
// stream). It keeps reading after that, so the library sees pongs and the
// close frame, but any further message is an error.
func (s *streamCall) readFrames(ctx context.Context, c *websocket.Conn) func() (proto.Message, error) {
	b := s.Binding
	var n int64
	return func() (proto.Message, error) {
		typ, data, err := c.Read(ctx)
		if err != nil {
			switch code := websocket.CloseStatus(err); {
			case code == websocket.StatusMessageTooBig:
				return nil, status.Errorf(codes.ResourceExhausted, "request message %d exceeds the limit of %d bytes per message", n, s.lim.MaxMessageBytes)
			case code != -1:
				return nil, status.Errorf(codes.Canceled, "the client closed the WebSocket (%d %s) before the stream ended", int(code), code)
			case strings.Contains(err.Error(), "read limited"):
				return nil, status.Errorf(codes.ResourceExhausted, "request message %d exceeds the limit of %d bytes per message", n, s.lim.MaxMessageBytes)
			}
			return nil, status.Errorf(codes.Canceled, "the WebSocket broke: %v", err)
		}
		if typ != websocket.MessageText {
			return nil, status.Errorf(codes.InvalidArgument, "message %d is a binary frame; send each message as a JSON text frame", n)
		}
		if len(data) == 0 {
			// End of the client's messages; keep the socket read so control
			// frames are handled, and refuse anything more.
			go s.drain(ctx, c)
			return nil, io.EOF
		}
		msg, err := b.DecodeRequest(transcode.Request{Vars: s.Vars, RawQuery: s.r.URL.RawQuery, Body: data})
		if err != nil {
			st := status.Convert(err)
			return nil, status.Errorf(st.Code(), "message %d: %s", n, st.Message())
		}
		n++
		return msg, nil
	}
}

// drain reads a WebSocket whose client has ended its messages, so pongs
// and the close frame are processed; a further message ends the stream.
func (s *streamCall) drain(ctx context.Context, c *websocket.Conn) {
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				s.cancel(status.Error(codes.Canceled, "the client closed the WebSocket before the stream ended"))
			}
			return
		}
		s.cancel(status.Error(codes.InvalidArgument, "a message arrived after the empty frame that ended the client's messages"))
		return
	}
}

// ping keeps the socket alive and ends the stream when the peer stops
// answering.
func (s *streamCall) ping(ctx context.Context, c *websocket.Conn, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.cancel(status.Errorf(codes.Unavailable, "the WebSocket peer did not answer a ping within %s", every))
			}
			return
		}
	}
}

// closeWebSocket ends the socket with the stream's status: nil is success.
func (s *streamCall) closeWebSocket(c *websocket.Conn, st *spb.Status) {
	if st == nil {
		_ = c.Close(websocket.StatusNormalClosure, "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsCloseTimeout)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, s.Binding.EncodeErrorFrame(st))
	_ = c.Close(websocket.StatusCode(WebSocketStatusBase+int(st.GetCode())), closeReason(st.GetMessage()))
}

// closeReason fits a status message into the 123 bytes a
// WebSocket close frame's reason holds, cutting at a UTF-8 boundary and
// marking the cut with "...".
func closeReason(msg string) string {
	const max = 123
	if len(msg) <= max {
		return msg
	}
	cut := max - 3
	for cut > 0 && msg[cut]&0xC0 == 0x80 {
		cut--
	}
	return msg[:cut] + "..."
}
