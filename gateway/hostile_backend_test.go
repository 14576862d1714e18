package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/reflection"
	reflectionv1grpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A hostile backend: a real gRPC server with reflection that publishes
//
//	package evil.v1;
//	message R { string s = 1; R r = 2; }
//	service Evil { rpc Get(R) returns (R); rpc Stream(R) returns (stream R); }
//
// and answers with wire bytes it writes itself: R nested 100,000 levels
// deep, unless the request's s is "ok".

// rawFrame is a message whose wire bytes the hostile backend handles
// itself.
type rawFrame struct{ b []byte }

// rawCodec sends and receives *rawFrame as raw bytes and everything else
// (the reflection service's messages) as protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if f, ok := v.(*rawFrame); ok {
		return f.b, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*rawFrame); ok {
		f.b = append([]byte(nil), data...)
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}

func (rawCodec) Name() string { return protocodec.Name }

// nestedR is the wire form of R nested n levels below the top one, the
// innermost holding s = "x"; written outermost first, in linear time.
func nestedR(n int) []byte {
	leaf := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x")
	sizes := make([]int, n+1)
	sizes[0] = len(leaf)
	for i := 1; i <= n; i++ {
		sizes[i] = protowire.SizeTag(2) + protowire.SizeVarint(uint64(sizes[i-1])) + sizes[i-1]
	}
	b := make([]byte, 0, sizes[n])
	for i := n; i >= 1; i-- {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizes[i-1]))
	}
	return append(b, leaf...)
}

// hostileAnswer is what the backend sends for a request: shallow for
// s = "ok", 100,000 levels deep otherwise.
func hostileAnswer(req []byte) []byte {
	if bytes.Contains(req, []byte("ok")) {
		return nestedR(1)
	}
	return nestedR(100_000)
}

// startDeepBackend starts the hostile backend and returns its address.
func startDeepBackend(t *testing.T) string {
	t.Helper()
	str := func(s string) *string { return &s }
	rType := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	sType := descriptorpb.FieldDescriptorProto_TYPE_STRING
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    str("evil/v1/evil.proto"),
		Package: str("evil.v1"),
		Syntax:  str("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: str("R"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: str("s"), JsonName: str("s"), Number: proto.Int32(1), Label: &opt, Type: &sType},
				{Name: str("r"), JsonName: str("r"), Number: proto.Int32(2), Label: &opt, Type: &rType, TypeName: str(".evil.v1.R")},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: str("Evil"),
			Method: []*descriptorpb.MethodDescriptorProto{
				{Name: str("Get"), InputType: str(".evil.v1.R"), OutputType: str(".evil.v1.R")},
				{Name: str("Stream"), InputType: str(".evil.v1.R"), OutputType: str(".evil.v1.R"), ServerStreaming: proto.Bool(true)},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	var files protoregistry.Files
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "evil.v1.Evil",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Get",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in rawFrame
				if err := dec(&in); err != nil {
					return nil, err
				}
				return &rawFrame{b: hostileAnswer(in.b)}, nil
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Stream",
			ServerStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				var in rawFrame
				if err := ss.RecvMsg(&in); err != nil {
					return err
				}
				if err := ss.SendMsg(&rawFrame{b: nestedR(1)}); err != nil {
					return err
				}
				return ss.SendMsg(&rawFrame{b: hostileAnswer(in.b)})
			},
		}},
	}, struct{}{})
	refl := reflection.NewServerV1(reflection.ServerOptions{Services: srv, DescriptorResolver: &files})
	reflectionRegister(srv, refl)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// TestHostileBackendDeepResponse: a backend answering with a message
// nested 100,000 levels deep gets its caller a 502 naming the depth limit
// (not a crashed process), the gateway serves the next request, and a
// stream carrying such a message ends with an error naming the limit.
func TestHostileBackendDeepResponse(t *testing.T) {
	addr := startDeepBackend(t)
	h := startGateway(t, fmt.Sprintf(`
limits:
  max_response_bytes: 16777216
upstreams:
  - name: evil
    static: [%q]
`, addr))
	const reason = `upstream \"evil\" sent a response that is not a valid evil.v1.R: response nests deeper than the limit of 64 levels`

	r := h.do(t, "POST", "/evil.v1.Evil/Get", `{"s":"deep"}`)
	if r.status != 502 {
		t.Fatalf("status %d, want 502; body (%d bytes) %.200s…", r.status, len(r.body), r.body)
	}
	jsonEq(t, r.body, `{"code":13,"message":"`+reason+`","details":[]}`)

	// The process is alive and serves the next call.
	r = h.do(t, "POST", "/evil.v1.Evil/Get", `{"s":"ok"}`).expect(t, 200)
	jsonEq(t, r.body, `{"s":"","r":{"s":"x","r":null}}`)

	resp := h.open(t, "POST", "/evil.v1.Evil/Stream", strings.NewReader(`{"s":"deep"}`), "Accept", "application/x-ndjson")
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	br := bufio.NewReader(resp.Body)
	jsonEq(t, []byte(readLine(t, br)), `{"result":{"s":"","r":{"s":"x","r":null}}}`)
	last := readLine(t, br)
	if !strings.Contains(last, `"error"`) || !strings.Contains(last, "response nests deeper than the limit of 64 levels") {
		t.Fatalf("stream end %s, want an error naming the depth limit", last)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("after the error: %q", rest)
	}
	h.do(t, "POST", "/evil.v1.Evil/Get", `{"s":"ok"}`).expect(t, 200)
}

// reflectionRegister serves refl as both reflection v1 and v1alpha.
func reflectionRegister(s *grpc.Server, refl reflectionv1grpc.ServerReflectionServer) {
	reflectionv1grpc.RegisterServerReflectionServer(s, refl)
}
