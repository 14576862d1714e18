package grpcproxy

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// NewWeb returns the handler of gRPC-Web (binary and text) and Connect
// requests for services: each is converted to a gRPC request that next
// serves (the gateway's policies, then the proxy), and next's gRPC
// response back to the client's protocol, errors included (Connect's JSON
// error shape, gRPC-Web's trailers in the body). maxMessage bounds one
// message (the gateway's max_body_bytes). Services whose names repeat are
// registered once. The handler is immutable; build a new one when the
// services change.
func NewWeb(services []protoreflect.ServiceDescriptor, maxMessage uint32, next http.Handler) (http.Handler, error) {
	seen := map[protoreflect.FullName]bool{}
	var svcs []*vanguard.Service
	for _, sd := range services {
		if seen[sd.FullName()] {
			continue
		}
		seen[sd.FullName()] = true
		svcs = append(svcs, vanguard.NewServiceWithSchema(sd, next,
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithMaxMessageBufferBytes(maxMessage)))
	}
	t, err := vanguard.NewTranscoder(svcs, vanguard.WithUnknownHandler(http.HandlerFunc(unknownMethod)))
	if err != nil {
		return nil, fmt.Errorf("grpcproxy: gRPC-Web and Connect: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Classify(r) == GRPCWebText {
			serveText(t, w, r)
			return
		}
		t.ServeHTTP(w, r)
	}), nil
}

// unknownMethod answers a method no published service has, in terms every
// RPC protocol's client reads (an HTTP 404 with a plain message).
func unknownMethod(w http.ResponseWriter, r *http.Request) {
	http.Error(w, fmt.Sprintf("method %s is not published here", r.URL.Path), http.StatusNotFound)
}

// serveText serves gRPC-Web's text framing (base64 of the binary framing
// both ways), which the converter does not speak, as binary gRPC-Web.
func serveText(next http.Handler, w http.ResponseWriter, r *http.Request) {
	r = r.Clone(r.Context())
	ct := r.Header.Get("Content-Type")
	r.Header.Set("Content-Type", strings.Replace(ct, "grpc-web-text", "grpc-web", 1))
	r.Header.Del("Content-Length")
	r.ContentLength = -1
	r.Body = struct {
		io.Reader
		io.Closer
	}{base64.NewDecoder(base64.StdEncoding, r.Body), r.Body}
	tw := &textWriter{ResponseWriter: w}
	next.ServeHTTP(tw, r)
	tw.Flush()
}

// textWriter base64-encodes a binary gRPC-Web response. Each flush ends
// the base64 run with its padding, which gRPC-Web text clients decode run
// by run, so streamed messages are not held back.
type textWriter struct {
	http.ResponseWriter
	wrote bool
	rest  []byte // bytes not yet encoded: fewer than 3 between flushes
}

func (w *textWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.ResponseWriter.Header()
	if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "application/grpc-web") {
		h.Set("Content-Type", strings.Replace(ct, "grpc-web", "grpc-web-text", 1))
	}
	h.Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

func (w *textWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n := len(p)
	buf := append(w.rest, p...)
	whole := len(buf) / 3 * 3
	if whole > 0 {
		out := make([]byte, base64.StdEncoding.EncodedLen(whole))
		base64.StdEncoding.Encode(out, buf[:whole])
		if _, err := w.ResponseWriter.Write(out); err != nil {
			return 0, err
		}
	}
	w.rest = append(w.rest[:0:0], buf[whole:]...)
	return n, nil
}

// Flush writes what is left, padded, and flushes.
func (w *textWriter) Flush() {
	if len(w.rest) > 0 {
		_, _ = w.ResponseWriter.Write([]byte(base64.StdEncoding.EncodeToString(w.rest)))
		w.rest = w.rest[:0]
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *textWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
