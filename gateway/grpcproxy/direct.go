package grpcproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The client leg of a proxied call, framed here rather than by grpc-go's
// server: its handler transport passes every write through a goroutine of
// its own, which doubled the CPU of a call. A proxied message is read from
// the request body and written to the response as a length-prefixed frame
// (the gRPC wire format over HTTP/2), headers and trailers as the gRPC
// protocol puts them.

// serveCall proxies r as c says.
func (p *Proxy) serveCall(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx, cancel := metadata.NewOutgoingContext(r.Context(), c.MD), context.CancelFunc(nil)
	if c.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	cl := &clientLeg{w: w, body: r.Body, closer: r.Body, max: p.maxRequest, streams: c.ClientStreams}
	if enc := r.Header.Get("Grpc-Encoding"); enc != "" && enc != "identity" {
		if cl.comp = encoding.GetCompressor(enc); cl.comp == nil {
			cl.fail(c, status.Newf(codes.Unimplemented, "grpc-encoding %q is not supported: use gzip or none", enc), nil)
			return
		}
	}
	opts := append(cl.opts[:0], p.codec)
	if c.MaxResponseBytes > 0 {
		opts = append(opts, grpc.MaxCallRecvMsgSize(c.MaxResponseBytes))
	}
	if cl.comp != nil {
		opts = append(opts, grpc.UseCompressor(cl.comp.Name()))
	}
	if !c.ClientStreams && !c.ServerStreams {
		cl.unary(ctx, c, opts)
		return
	}
	cl.stream(ctx, cancel, c, opts)
}

// clientLeg is the client's side of one call: its request body, its
// response writer, and what has been written so far. Only the handler's
// goroutine writes.
type clientLeg struct {
	w       http.ResponseWriter
	body    io.Reader
	closer  io.Closer // the body's
	max     int
	comp    encoding.Compressor // the client's request compression, used for responses too; nil: none
	hdr     [5]byte
	started bool // the response headers are out
	streams bool // the client streams its requests
	opts    [3]grpc.CallOption
	req     Frame // a unary call's request
}

// errTooLarge is a request message over the limit.
var errTooLarge = errors.New("too large")

// read returns the client's next message, io.EOF at the end of the body.
func (l *clientLeg) read() (*Frame, error) {
	if _, err := io.ReadFull(l.body, l.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, status.Error(codes.Internal, "the request ended inside a message's prefix")
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(l.hdr[1:])
	if int64(n) > int64(l.max) {
		return nil, status.Errorf(codes.ResourceExhausted, "a request message of %d bytes exceeds the limit of %d bytes (max_body_bytes)", n, l.max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(l.body, b); err != nil {
		return nil, status.Errorf(codes.Internal, "the request ended inside a message: %v", err)
	}
	if l.hdr[0]&1 == 0 {
		return l.frame(b), nil
	}
	if l.comp == nil {
		return nil, status.Error(codes.Internal, "a compressed message without grpc-encoding")
	}
	zr, err := l.comp.Decompress(bytes.NewReader(b))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "decompressing a request message: %v", err)
	}
	d, err := io.ReadAll(io.LimitReader(zr, int64(l.max)+1))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "decompressing a request message: %v", err)
	}
	if len(d) > l.max {
		return nil, status.Errorf(codes.ResourceExhausted, "a request message exceeds the limit of %d bytes (max_body_bytes) once decompressed", l.max)
	}
	return l.frame(d), nil
}

// frame holds a request message: in the leg itself when the request does
// not stream (one message, no allocation), else a frame of its own, which
// the upstream stream may still hold while the next one is read.
func (l *clientLeg) frame(b []byte) *Frame {
	if !l.streams {
		l.req.b = b
		return &l.req
	}
	return &Frame{b: b}
}

// start writes the response headers: the content type, the compression
// and the upstream's header metadata.
func (l *clientLeg) start(md metadata.MD) {
	if l.started {
		return
	}
	l.started = true
	h := l.w.Header()
	h.Set("Content-Type", "application/grpc")
	if l.comp != nil {
		h.Set("Grpc-Encoding", l.comp.Name())
	}
	putMetadata(h, "", md)
	l.w.WriteHeader(http.StatusOK)
}

// write sends one response message.
func (l *clientLeg) write(f *Frame, flush bool) error {
	b := f.b
	var flag byte
	if l.comp != nil {
		var buf bytes.Buffer
		zw, err := l.comp.Compress(&buf)
		if err == nil {
			_, err = zw.Write(b)
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return err
		}
		b, flag = buf.Bytes(), 1
	}
	// The prefix and the message as two writes into the server's buffer,
	// not copied into one slice first.
	var prefix [5]byte
	prefix[0] = flag
	binary.BigEndian.PutUint32(prefix[1:5], uint32(len(b)))
	if _, err := l.w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := l.w.Write(b); err != nil {
		return err
	}
	if flush {
		if f, ok := l.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	return nil
}

// finish writes the call's status and the upstream's trailer metadata:
// as trailers after a body, or in the headers of a trailers-only response.
func (l *clientLeg) finish(st *status.Status, trailer metadata.MD) {
	prefix := ""
	if l.started {
		prefix = http.TrailerPrefix
	} else {
		l.started = true
		h := l.w.Header()
		h.Set("Content-Type", "application/grpc")
	}
	h := l.w.Header()
	putMetadata(h, prefix, trailer)
	h.Set(prefix+"Grpc-Status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		h.Set(prefix+"Grpc-Message", encodeMessage(msg))
	}
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if b, err := proto.Marshal(p); err == nil {
			h.Set(prefix+"Grpc-Status-Details-Bin", base64.RawStdEncoding.EncodeToString(b))
		}
	}
	if prefix == "" {
		l.w.WriteHeader(http.StatusOK)
	}
}

// fail ends the call with st before anything was proxied.
func (l *clientLeg) fail(c *Call, st *status.Status, endpoint net.Addr) {
	l.finish(st, nil)
	c.Upstream.Done(st.Code(), endpoint)
}

// end finishes the call with err's status (nil: OK).
func (l *clientLeg) end(c *Call, err error, trailer metadata.MD, endpoint net.Addr) {
	st := status.Convert(err)
	l.finish(st, forwardable(trailer))
	c.Upstream.Done(st.Code(), endpoint)
}

func (l *clientLeg) unary(ctx context.Context, c *Call, opts []grpc.CallOption) {
	req, err := l.read()
	if errors.Is(err, io.EOF) {
		err = status.Error(codes.Internal, "the request has no message")
	}
	if err != nil {
		l.end(c, err, nil, nil)
		return
	}
	// What the call fills in and its options, in one allocation (they
	// escape to grpc-go).
	out := new(struct {
		resp            Frame
		header, trailer metadata.MD
		pr              peer.Peer
		opts            [6]grpc.CallOption
	})
	opts = append(append(out.opts[:0], grpc.Header(&out.header), grpc.Trailer(&out.trailer), grpc.Peer(&out.pr)), opts...)
	err = c.Upstream.Unary(ctx, req, &out.resp, &out.pr, opts...)
	endpoint := out.pr.Addr
	if err != nil {
		if md := forwardable(out.header); len(md) > 0 {
			putMetadata(l.w.Header(), "", md)
		}
		l.end(c, c.Upstream.Status(err).Err(), out.trailer, endpoint)
		return
	}
	l.start(forwardable(out.header))
	err = l.write(&out.resp, false)
	out.resp.release()
	if err != nil {
		l.end(c, status.Errorf(codes.Canceled, "writing the response: %v", err), nil, endpoint)
		return
	}
	l.end(c, nil, out.trailer, endpoint)
}

func (l *clientLeg) stream(ctx context.Context, cancel context.CancelFunc, c *Call, opts []grpc.CallOption) {
	var first *Frame
	if !c.ClientStreams {
		// One request message: read here, so that no reader outlives the
		// call.
		var err error
		if first, err = l.read(); errors.Is(err, io.EOF) {
			err = status.Error(codes.Internal, "the request has no message")
		}
		if err != nil {
			l.end(c, err, nil, nil)
			return
		}
	}
	var pr peer.Peer
	cs, err := c.Upstream.Open(ctx, &grpc.StreamDesc{ClientStreams: c.ClientStreams, ServerStreams: c.ServerStreams},
		append(opts, grpc.Peer(&pr))...)
	if err != nil {
		l.end(c, c.Upstream.Status(err).Err(), nil, nil)
		return
	}
	readErr, readDone := make(chan error, 1), make(chan struct{})
	if first != nil {
		if cs.SendMsg(first) == nil {
			_ = cs.CloseSend()
		}
		close(readDone)
	} else {
		defer l.stopReading(readDone)
		go l.forward(cs, cancel, readErr, readDone)
	}
	for {
		f := new(Frame)
		err := cs.RecvMsg(f)
		endpoint := pr.Addr
		if !l.started {
			if md, herr := cs.Header(); herr == nil && (err == nil || errors.Is(err, io.EOF)) {
				l.start(forwardable(md))
			}
		}
		if errors.Is(err, io.EOF) {
			l.end(c, nil, cs.Trailer(), endpoint)
			return
		}
		if err != nil {
			select {
			case rerr := <-readErr:
				if rerr != nil {
					// The client's own stream broke first (a message too
					// large, a reset): that is the status.
					l.end(c, rerr, nil, endpoint)
					return
				}
			default:
			}
			l.end(c, c.Upstream.Status(err).Err(), cs.Trailer(), endpoint)
			return
		}
		err = l.write(f, true)
		f.release()
		if err != nil {
			cancel()
			l.end(c, status.Errorf(codes.Canceled, "writing to the client: %v", err), nil, endpoint)
			return
		}
	}
}

// forward sends the client's messages upstream as they arrive, then
// half-closes; a broken request side cancels the call. It runs on its own
// goroutine and closes done when it returns.
func (l *clientLeg) forward(cs grpc.ClientStream, cancel context.CancelFunc, readErr chan<- error, done chan<- struct{}) {
	defer close(done)
	for {
		f, err := l.read()
		if errors.Is(err, io.EOF) {
			_ = cs.CloseSend()
			readErr <- nil
			return
		}
		if err != nil {
			readErr <- err
			cancel() // the client's side broke: so does the upstream call
			return
		}
		if cs.SendMsg(f) != nil {
			readErr <- nil // the upstream ended the call: RecvMsg says how
			return
		}
	}
}

// stopReading ends the goroutine reading a client stream's body when the
// call is over, and waits for it: it must not touch the request once the
// handler has returned. A client that has not finished its body leaves
// that goroutine in a Read. Closing the body ends it (an HTTP/2 stream's,
// a converted request's); else a read deadline in the past does, which
// also has net/http close the connection rather than reuse it.
func (l *clientLeg) stopReading(done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	go func() { _ = l.closer.Close() }() // an HTTP/1.1 body's Close waits for the Read
	select {
	case <-done:
		return
	case <-time.After(time.Second):
	}
	_ = http.NewResponseController(l.w).SetReadDeadline(time.Now())
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		// Neither ended it: the server ends the body with the connection,
		// and the goroutine only reads until then.
	}
}

// putMetadata adds md to h as gRPC carries metadata in HTTP/2 headers
// (binary values base64), each name with prefix (http.TrailerPrefix for
// trailers).
func putMetadata(h http.Header, prefix string, md metadata.MD) {
	for k, vs := range md {
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			} else if strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			h.Add(prefix+k, v)
		}
	}
}
