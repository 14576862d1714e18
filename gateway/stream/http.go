package stream

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/compat"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// serveHTTP runs the call over plain HTTP: NDJSON (or a JSON array, or raw
// bytes for google.api.HttpBody) in, the negotiated framing out. With
// HTTP/1.1, bidi needs a client that sends and reads at once; HTTP/2 clients
// always can.
func (s *streamCall) serveHTTP(w http.ResponseWriter) {
	b := s.Binding
	r := s.r
	var next func() (proto.Message, error)
	if b.ClientStreaming {
		dec, err := b.NewMessageDecoder(r.Body, r.Header.Get("Content-Type"), s.Vars, r.URL.RawQuery, s.lim.MaxMessageBytes)
		if err != nil {
			writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument,
				err.Error()+" or application/x-ndjson: one message per line")
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
		req, ok := s.DecodeRequest(w)
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
		writeStatusProto(w, st, b)
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

// Bounds of the drain of a client stream's body that the call outlived:
// what a client may still send, and for how long, after its answer.
const (
	drainBytes = 1 << 20
	drainTime  = 2 * time.Second
)

// endBodyRead ends the reading of a client stream's body when the call is
// over, and waits for the goroutine that reads it, which must not touch the
// request once the handler has returned. A client that has not finished
// its body (the backend failed or answered first) is answered at once, and
// the rest of its body is then drained, up to drainBytes within drainTime:
// a client that writes its whole body before reading — most do — would
// otherwise see its writes fail with a broken pipe when the connection
// closes under it, and never read the Status. The reading goroutine is
// ended first (the stream's cancel fails its next send; the read deadline
// ends a Read waiting on a silent client, which holds the body's lock),
// since the body is not safe for two readers. Past the bounds the
// connection closes.
func (s *streamCall) endBodyRead(w http.ResponseWriter, bodyDone, sendDone <-chan struct{}) {
	select {
	case <-bodyDone:
		s.cancel(nil)
		<-sendDone
		return
	default:
	}
	rc := http.NewResponseController(w)
	// Full duplex, so that sending the answer does not wait on the body;
	// HTTP/2 always is (and then says the call is not supported).
	_ = rc.EnableFullDuplex()
	drain := rc.Flush() == nil && rc.SetReadDeadline(time.Now().Add(drainTime)) == nil
	if !drain {
		if err := rc.SetReadDeadline(time.Now()); err != nil {
			s.Log.Warn().Err(err).Msg("cannot end the reading of a stream's request body")
			s.cancel(nil)
			return // waiting could be forever
		}
	}
	s.cancel(nil)
	<-sendDone
	if !drain {
		return
	}
	if n, err := io.CopyN(io.Discard, s.r.Body, drainBytes); n == drainBytes || !errors.Is(err, io.EOF) {
		_ = rc.SetReadDeadline(time.Now()) // over the bounds: net/http closes the connection at once
	}
}

// writeSingle answers a client stream's one response as a unary call's.
func (s *streamCall) writeSingle(w http.ResponseWriter) {
	b := s.Binding
	resp := b.NewResponse()
	err := s.cs.RecvMsg(resp)
	hdr, _ := s.cs.Header()
	transcode.WriteResponseMetadata(w.Header(), hdr, s.cs.Trailer())
	if err != nil {
		st := s.status(err)
		writeStatusProto(w, st, b)
		return
	}
	s.WriteResponse(w, resp)
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
		m := enc.NewResponse(s.Codec)
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
	b := s.Binding
	framing, contentType := b.NegotiateFraming(s.r.Header.Get("Accept"), s.lim.FramingFor(string(b.Method.FullName())))
	enc := b.NewStreamEncoder(framing)
	delimit := framing == transcode.FramingRaw && s.Compat.StreamDialect(framing)
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
		ticker = time.NewTicker(s.lim.KeepAlive)
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
		if idle := s.lim.IdleTimeout; idle > 0 && flushed {
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
			ticker.Reset(s.lim.KeepAlive)
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
				if buf, err = enc.AppendReceived(buf[:0], it.msg); err == nil && delimit {
					buf = append(buf, compat.ChunkDelimiter)
				}
				if err != nil {
					s.Log.Error().Err(err).Str("method", b.FullMethod).Msg("encoding stream message")
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
	b := s.Binding
	var st *spb.Status
	if !errors.Is(err, io.EOF) {
		st = s.status(err)
		if !committed {
			// Nothing was sent: a plain error answer with its own status.
			if md, herr := s.cs.Header(); herr == nil {
				transcode.WriteResponseMetadata(w.Header(), md, s.cs.Trailer())
			}
			if s.Compat.StreamDialect(enc.Framing()) {
				rpcstatus.Challenge(w.Header(), st)
				compat.WriteStreamError(w, codes.Code(st.GetCode()), b.EncodeError(st))
				return
			}
			writeStatusProto(w, st, b)
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
