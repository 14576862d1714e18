package leanunary

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	gstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ErrDeclined is returned by Invoke, before anything is sent, for a call
// the pool does not carry: one with a call option it does not know (a
// compressor, per-call credentials), or when none of its endpoints can
// take a call now (none known, none reachable). The caller makes the call
// with grpc-go instead, whose view of the endpoints answers it.
var ErrDeclined = errors.New("leanunary: call declined")

// metadataOption hands the outgoing metadata over without the copy
// metadata.FromOutgoingContext makes.
type metadataOption struct {
	grpc.EmptyCallOption
	md metadata.MD
}

// Metadata is a call option carrying the call's outgoing metadata; without
// it Invoke reads the context's.
func Metadata(md metadata.MD) grpc.CallOption { return metadataOption{md: md} }

// call is one unary call in flight. The reader fills in the response
// under the connection's mu; the caller reads it after done.
type call struct {
	id          uint32
	sendWindow  int64
	recvUnacked int
	maxRecv     int

	gotHeaders bool
	header     metadata.MD
	trailer    metadata.MD
	status     *gstatus.Status // the call's status unless ok
	ok         bool            // the trailers said OK
	msg        []byte          // the length-prefixed response, as received
	err        error           // the call failed before a status
	unsent     bool            // err came before the server could process the call
	done       chan struct{}
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// finish completes the call. Under the connection's mu; once per call.
func (cl *call) finish(err error, unsent bool) {
	cl.err, cl.unsent = err, unsent
	cl.done <- struct{}{}
}

// headers takes a header block: the response headers, or trailers (or
// both in a trailers-only response).
func (cl *call) headers(f *http2.MetaHeadersFrame) error {
	trailers := cl.gotHeaders || f.StreamEnded()
	if !cl.gotHeaders {
		cl.gotHeaders = true
		httpStatus := f.PseudoValue("status")
		if httpStatus == "" {
			return errors.New("malformed response: no :status")
		}
		if httpStatus != "200" {
			if !f.StreamEnded() || !hasField(f.RegularFields(), "grpc-status") {
				cl.status = httpStatusToGRPC(httpStatus)
				return nil
			}
		} else if ct := headerValue(f.RegularFields(), "content-type"); !strings.HasPrefix(ct, "application/grpc") {
			cl.status = gstatus.Newf(codes.Unknown, "unexpected content-type %q from the upstream", ct)
			return nil
		}
	}
	var md metadata.MD // most answers carry none: made on the first key
	var st *status.Status
	code, message := codes.Unknown, ""
	haveCode := false
	for _, hf := range f.RegularFields() {
		switch hf.Name {
		case "grpc-status":
			n, err := strconv.ParseUint(hf.Value, 10, 32)
			if err != nil {
				return fmt.Errorf("malformed grpc-status %q", hf.Value)
			}
			code, haveCode = codes.Code(n), true
		case "grpc-message":
			message = rpcstatus.DecodeMessage(hf.Value)
		case "grpc-status-details-bin":
			b, err := rpcstatus.DecodeBinaryMetadata(hf.Value)
			if err != nil {
				return fmt.Errorf("malformed grpc-status-details-bin: %v", err)
			}
			st = new(status.Status)
			if err := proto.Unmarshal(b, st); err != nil {
				return fmt.Errorf("malformed grpc-status-details-bin: %v", err)
			}
		case "content-type", "grpc-encoding", "grpc-accept-encoding", "te":
		default:
			if strings.HasSuffix(hf.Name, "-bin") {
				b, err := rpcstatus.DecodeBinaryMetadata(hf.Value)
				if err != nil {
					return fmt.Errorf("malformed %s: %v", hf.Name, err)
				}
				if md == nil {
					md = metadata.MD{}
				}
				md[hf.Name] = append(md[hf.Name], string(b))
				continue
			}
			if md == nil {
				md = metadata.MD{}
			}
			md[hf.Name] = append(md[hf.Name], hf.Value)
		}
	}
	if !trailers {
		cl.header = md
		return nil
	}
	cl.trailer = md
	if !haveCode {
		cl.status = gstatus.New(codes.Internal, "the upstream's trailers have no grpc-status")
		return nil
	}
	switch {
	case st != nil && codes.Code(st.Code) == code:
		cl.status = gstatus.FromProto(st)
	case code == codes.OK:
		cl.ok = true // no status value for the common case
	default:
		cl.status = gstatus.New(code, message)
	}
	return nil
}

// data takes response bytes: one length-prefixed message, at most maxRecv
// long.
func (cl *call) data(p []byte) error {
	if !cl.gotHeaders {
		return gstatus.Error(codes.Internal, "the upstream sent DATA before the response headers")
	}
	if len(p) == 0 || cl.status != nil { // a non-gRPC answer's body is not read
		return nil
	}
	cl.msg = append(cl.msg, p...)
	if len(cl.msg) >= 5 {
		n := binary.BigEndian.Uint32(cl.msg[1:5])
		if int64(n) > int64(cl.maxRecv) {
			return gstatus.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, cl.maxRecv)
		}
		if len(cl.msg) > 5+int(n) {
			return gstatus.Error(codes.Internal, "the upstream sent more than one response message to a unary call")
		}
	}
	return nil
}

// Invoke makes a unary call on one of the pool's connections, as
// grpc.ClientConn.Invoke does: args are marshalled and reply unmarshalled
// by the codec of a grpc.ForceCodecV2 option (else grpc-go's proto
// codec); the Header, Trailer, Peer and MaxCallRecvMsgSize options are
// honoured; any other option, or no connection ready, gives ErrDeclined
// before anything is sent. A Peer's address is set once the request was
// written to a server.
func (p *Pool) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	var (
		codec     encoding.CodecV2
		headerOut *metadata.MD
		trailOut  *metadata.MD
		peerOut   *peer.Peer
		md        metadata.MD
		haveMD    bool
		maxRecv   = 4 << 20
	)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.ForceCodecV2CallOption:
			codec = o.CodecV2
		case grpc.HeaderCallOption:
			headerOut = o.HeaderAddr
		case grpc.TrailerCallOption:
			trailOut = o.TrailerAddr
		case grpc.PeerCallOption:
			peerOut = o.PeerAddr
		case grpc.MaxRecvMsgSizeCallOption:
			maxRecv = o.MaxRecvMsgSize
		case metadataOption:
			md, haveMD = o.md, true
		default:
			return ErrDeclined
		}
	}
	if codec == nil {
		codec = encoding.GetCodecV2("proto")
	}
	if !haveMD {
		md, _ = metadata.FromOutgoingContext(ctx)
	}
	if err := ctx.Err(); err != nil {
		return gstatus.FromContextError(err).Err()
	}
	payload, err := codec.Marshal(args)
	if err != nil {
		return gstatus.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	defer payload.Free()

	c := p.pick()
	if c == nil {
		return ErrDeclined
	}
	cl := callPool.Get().(*call)
	cl.maxRecv = maxRecv
	started := c.start(ctx, cl, method, md, payload, codec.Name(), p.scheme)
	if !started {
		if c = p.pick(); c != nil { // the connection ended meanwhile: once more
			started = c.start(ctx, cl, method, md, payload, codec.Name(), p.scheme)
		}
		if !started {
			cl.reset()
			callPool.Put(cl)
			return ErrDeclined
		}
	}
	if peerOut != nil {
		peerOut.Addr = c.addr
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		c.mu.Lock()
		c.resetLocked(cl, http2.ErrCodeCancel, gstatus.FromContextError(ctx.Err()).Err())
		c.flushLocked()
		c.mu.Unlock()
		<-cl.done
	}
	if cl.unsent {
		// The server did not process it (GOAWAY, REFUSED_STREAM): grpc-go,
		// with its own view of the endpoints, makes it again.
		if peerOut != nil {
			peerOut.Addr = nil
		}
		cl.reset()
		callPool.Put(cl)
		return ErrDeclined
	}
	err = cl.result(ctx, codec, reply)
	if headerOut != nil {
		*headerOut = cl.header
	}
	if trailOut != nil {
		*trailOut = cl.trailer
	}
	cl.reset()
	callPool.Put(cl)
	return err
}

// result is the call's outcome, the response unmarshalled into reply.
// Failures are worded as grpc-go words them: the gateway's error mapping
// recognises those words (transcode.TransportFailure, LocalDeadline).
func (cl *call) result(ctx context.Context, codec encoding.CodecV2, reply any) error {
	if cl.err != nil {
		var se http2.StreamError
		switch {
		case gstatus.Code(cl.err) != codes.Unknown:
			return cl.err
		case errors.As(cl.err, &se):
			code := rstCode(se.Code)
			if d, ok := ctx.Deadline(); ok && code == codes.Canceled && !time.Now().Before(d) {
				code = codes.DeadlineExceeded // the server reset the call as its deadline passed
			}
			return gstatus.Errorf(code, "stream terminated by RST_STREAM with error code: %v", se.Code)
		default:
			return gstatus.Error(codes.Unavailable, cl.err.Error())
		}
	}
	switch {
	case cl.status != nil && cl.status.Code() != codes.OK:
		return cl.status.Err()
	case cl.status == nil && !cl.ok:
		return gstatus.Error(codes.Internal, "the upstream ended the stream without a status")
	}
	if len(cl.msg) < 5 || len(cl.msg) != 5+int(binary.BigEndian.Uint32(cl.msg[1:5])) {
		return gstatus.Error(codes.Internal, "the upstream sent no complete response message")
	}
	if cl.msg[0] != 0 {
		return gstatus.Error(codes.Internal, "the upstream sent a compressed response the gateway did not ask for")
	}
	// The reply may keep the bytes (a reference to them): they are its
	// own, drawn from grpc-go's buffer pool when large enough to be pooled.
	n := len(cl.msg) - 5
	var buf mem.Buffer
	if mem.IsBelowBufferPoolingThreshold(n) {
		buf = mem.SliceBuffer(append([]byte(nil), cl.msg[5:]...))
	} else {
		pool := mem.DefaultBufferPool()
		bp := pool.Get(n)
		copy(*bp, cl.msg[5:])
		buf = mem.NewBuffer(bp, pool)
	}
	err := codec.Unmarshal(mem.BufferSlice{buf}, reply)
	buf.Free()
	if err != nil {
		return gstatus.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

func (cl *call) reset() {
	done := cl.done
	msg := cl.msg[:0]
	if cap(msg) > 64<<10 {
		msg = nil
	}
	*cl = call{done: done, msg: msg}
}

// start opens the call's stream and sends its request; false when the
// connection can take no new call, and then nothing was sent.
func (c *conn) start(ctx context.Context, cl *call, method string, md metadata.MD, payload mem.BufferSlice, subtype, scheme string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.usable() {
		return false
	}
	cl.id = c.nextID
	c.nextID += 2
	cl.sendWindow = c.initialWindow
	c.streams[cl.id] = cl

	c.hbuf.Reset()
	enc := c.henc
	enc.WriteField(hpack.HeaderField{Name: ":method", Value: "POST"})
	enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: scheme})
	enc.WriteField(hpack.HeaderField{Name: ":path", Value: method})
	enc.WriteField(hpack.HeaderField{Name: ":authority", Value: c.authority})
	ct := "application/grpc+proto" // the gateway's codecs: no string built per call
	if subtype != "proto" {
		ct = "application/grpc+" + subtype
	}
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: ct})
	enc.WriteField(hpack.HeaderField{Name: "te", Value: "trailers"})
	enc.WriteField(hpack.HeaderField{Name: "user-agent", Value: userAgent})
	if d, ok := ctx.Deadline(); ok {
		var tb [16]byte
		enc.WriteField(hpack.HeaderField{Name: "grpc-timeout", Value: string(appendTimeout(tb[:0], time.Until(d)))})
	}
	for k, vs := range md {
		if rpcstatus.ReservedMetadataKey(k) {
			continue
		}
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			enc.WriteField(hpack.HeaderField{Name: k, Value: v})
		}
	}
	block := c.hbuf.Bytes()
	first := true
	for len(block) > 0 || first {
		chunk := block
		if len(chunk) > int(c.maxFrame) {
			chunk = chunk[:c.maxFrame]
		}
		block = block[len(chunk):]
		if first {
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: cl.id, BlockFragment: chunk, EndHeaders: len(block) == 0})
			first = false
		} else {
			c.fr.WriteContinuation(cl.id, len(block) == 0, chunk)
		}
	}

	var prefix [5]byte
	size := payload.Len()
	binary.BigEndian.PutUint32(prefix[1:], uint32(size))
	// The message goes out in frames no larger than the peer allows, as
	// the windows let it; the prefix travels with the first.
	if n := size + 5; n <= int(c.maxFrame) && int64(n) <= c.connWindow && int64(n) <= cl.sendWindow {
		// One DATA frame, written straight into the queue.
		c.connWindow -= int64(n)
		cl.sendWindow -= int64(n)
		c.out = append(c.out, byte(n>>16), byte(n>>8), byte(n), byte(http2.FrameData), byte(http2.FlagDataEndStream),
			byte(cl.id>>24), byte(cl.id>>16), byte(cl.id>>8), byte(cl.id))
		c.out = append(c.out, prefix[:]...)
		for _, b := range payload {
			c.out = append(c.out, b.ReadOnlyData()...)
		}
		c.flushSoon()
		return true
	}
	rest := append(prefix[:], payload.Materialize()...)
	// A server that grants no window must not hold the call past its
	// context: the context's end wakes the wait.
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.windowWait.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	for len(rest) > 0 {
		for c.err == nil && (c.connWindow <= 0 || cl.sendWindow <= 0) {
			if _, ok := c.streams[cl.id]; !ok {
				return true // reset meanwhile: the caller learns why
			}
			if err := ctx.Err(); err != nil {
				c.resetLocked(cl, http2.ErrCodeCancel, gstatus.FromContextError(err).Err())
				c.flushLocked()
				return true
			}
			if len(c.out) > 0 && !c.flushing {
				// The write unlocks mu: the window may grow meanwhile,
				// so look again before waiting.
				c.flushLocked()
				continue
			}
			c.windowWait.Wait()
		}
		if _, ok := c.streams[cl.id]; !ok || c.err != nil {
			return true // the call has been told why it ended
		}
		n := min(int64(len(rest)), c.connWindow, cl.sendWindow, int64(c.maxFrame))
		c.connWindow -= n
		cl.sendWindow -= n
		c.fr.WriteData(cl.id, int(n) == len(rest), rest[:n])
		rest = rest[n:]
	}
	c.flushSoon()
	return true
}

// userAgent is what grpc-go sends, so that a backend sees one client
// whichever transport carried a call.
var userAgent = "grpc-go/" + grpc.Version

// timeoutUnits are grpc-timeout's units, finest first (transcode.ParseTimeout
// reads them).
var timeoutUnits = [...]struct {
	unit byte
	size time.Duration
}{{'n', time.Nanosecond}, {'u', time.Microsecond}, {'m', time.Millisecond}, {'S', time.Second}, {'M', time.Minute}, {'H', time.Hour}}

// appendTimeout writes d as grpc-timeout does: at most 8 digits and a unit.
func appendTimeout(b []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(b, "1n"...)
	}
	for _, u := range timeoutUnits {
		v := (d + u.size - 1) / u.size
		if v < 1e8 {
			return append(strconv.AppendInt(b, int64(v), 10), u.unit)
		}
	}
	return append(b, "99999999H"...)
}

func hasField(fs []hpack.HeaderField, name string) bool { return headerValue(fs, name) != "" }

func headerValue(fs []hpack.HeaderField, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// httpStatusToGRPC is the status of a response that is not gRPC, as
// grpc-go's transport maps it (not rpcstatus.Code's reading of a status):
// the same answer gives the same code whichever transport carried the call.
func httpStatusToGRPC(s string) *gstatus.Status {
	code := codes.Unknown
	switch s {
	case "400":
		code = codes.Internal
	case "401":
		code = codes.Unauthenticated
	case "403":
		code = codes.PermissionDenied
	case "404":
		code = codes.Unimplemented
	case "429", "502", "503", "504":
		code = codes.Unavailable
	}
	return gstatus.Newf(code, "unexpected HTTP status code received from server: %s", s)
}

// rstCode is the status of a stream the server reset, as grpc-go maps it.
func rstCode(c http2.ErrCode) codes.Code {
	switch c {
	case http2.ErrCodeRefusedStream:
		return codes.Unavailable
	case http2.ErrCodeCancel:
		return codes.Canceled
	case http2.ErrCodeEnhanceYourCalm:
		return codes.ResourceExhausted
	case http2.ErrCodeInadequateSecurity:
		return codes.PermissionDenied
	}
	return codes.Internal
}
