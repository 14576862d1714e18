package aggregate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// A call is a gRPC request made in process: framed as a native gRPC
// client would send it, served by the engine's Invoke (the method's route
// chain, then the proxied call) under an Info of its own, and read back
// from a recorder: the response frame and the grpc-status, or the JSON
// status of a policy's rejection.

// invoke makes one call with req and returns its response, or its code
// and message.
func (c *compiled) invoke(ctx context.Context, parent *http.Request, info *policy.Info, cc *compiledCall, req proto.Message) (protoreflect.Message, codes.Code, string) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, codes.Internal, fmt.Sprintf("encoding the request: %v", err)
	}
	frame := make([]byte, 5+len(b))
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(b)))
	copy(frame[5:], b)
	h := parent.Header.Clone()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Accept-Encoding", "Connection", "Te",
		"Grpc-Timeout", "Grpc-Encoding", "Grpc-Accept-Encoding", "Upgrade", "Transfer-Encoding"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/grpc")
	h.Set("Te", "trailers")
	var cctx context.Context = hiddenInfo{ctx}
	if cc.Timeout > 0 {
		h.Set("Grpc-Timeout", strconv.FormatInt(max(cc.Timeout.Milliseconds(), 1), 10)+"m")
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(cctx, cc.Timeout)
		defer cancel()
	}
	remote := parent.RemoteAddr
	if info != nil && info.ClientIP.IsValid() {
		remote = netip.AddrPortFrom(info.ClientIP, 0).String() // the client as the edge resolved it
	}
	r := (&http.Request{Method: http.MethodPost, URL: &url.URL{Path: cc.path}, RequestURI: cc.path,
		Proto: "HTTP/2.0", ProtoMajor: 2, Header: h, Body: io.NopCloser(bytes.NewReader(frame)),
		ContentLength: int64(len(frame)), Host: parent.Host, RemoteAddr: remote, TLS: parent.TLS}).WithContext(cctx)
	rec := &recorder{header: http.Header{}}
	c.invoker.ServeHTTP(rec, r)
	return rec.result(cc.md.Output())
}

// hiddenInfo is a call's context: its parent's values but the request's
// policy.Info, so that the call's chain starts an Info of its own (the
// calls run in parallel; an Info is one request's).
type hiddenInfo struct{ context.Context }

func (h hiddenInfo) Value(key any) any {
	v := h.Context.Value(key)
	if _, ok := v.(*policy.Info); ok {
		return nil
	}
	return v
}

// maxRecorded bounds what a call's recorder keeps beyond the response
// message (the engine bounds that by limits.max_response_bytes).
const maxRecorded = 64 << 20

// recorder is the response writer of a call.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.body.Len()+len(p) > maxRecorded {
		return 0, fmt.Errorf("aggregate: a call's response exceeds %d bytes", maxRecorded)
	}
	return r.body.Write(p)
}
func (r *recorder) Flush() {}

// result reads the call's outcome.
func (r *recorder) result(out protoreflect.MessageDescriptor) (protoreflect.Message, codes.Code, string) {
	if r.code != 0 && r.code != http.StatusOK {
		var st struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(r.body.Bytes(), &st) != nil || st.Code == 0 {
			return nil, rpcstatus.Code(r.code), http.StatusText(r.code)
		}
		return nil, codes.Code(st.Code), st.Message
	}
	code, msg := r.trailer("Grpc-Status"), r.trailer("Grpc-Message")
	if code == "" {
		return nil, codes.Internal, "the call ended without a status"
	}
	if n, err := strconv.Atoi(code); err != nil || n != 0 {
		msg = rpcstatus.DecodeMessage(msg)
		if err != nil {
			return nil, codes.Unknown, msg
		}
		return nil, codes.Code(n), msg
	}
	b := r.body.Bytes()
	if len(b) < 5 || b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
		return nil, codes.Internal, "the call's response is not one uncompressed message"
	}
	m := dynamicpb.NewMessage(out)
	if err := proto.Unmarshal(b[5:], m); err != nil {
		return nil, codes.Internal, fmt.Sprintf("the call's response does not decode as %s: %v", out.FullName(), err)
	}
	return m, codes.OK, ""
}

// trailer is a status header: a trailer after a body, or a header of a
// trailers-only answer.
func (r *recorder) trailer(name string) string {
	if v := r.header[http.TrailerPrefix+name]; len(v) > 0 {
		return v[0]
	}
	return r.header.Get(name)
}
