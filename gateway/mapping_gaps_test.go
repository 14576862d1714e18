package gateway_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The mappings grpc-gateway serves that refract used to leave unrouted or
// stop short of, each called through the real stack against a backend
// whose API has the shapes of grpc-gateway's a_bit_of_everything example
// (built here from descriptors: no example backend has them):
//
//	package mirror.v1;
//	message Inner { string name = 1; int32 amount = 2; }
//	message Outer { Inner inner = 1; string label = 2; }
//	message Abe {
//	  string uuid = 1; repeated float floats = 2; repeated string strings = 3;
//	  repeated int64 ints = 4; Outer outer = 5; google.protobuf.Struct struct_field = 6;
//	  google.protobuf.Value value_field = 7; string note = 8;
//	}
//	message UpdateAbe { Abe abe = 1; google.protobuf.FieldMask update_mask = 2; }
//	service Mirror {
//	  rpc RepeatedPath(Abe) returns (Abe) { get: "/v1/abe/repeated/{floats}/{strings}/{ints}" }
//	  rpc NestedBody(Abe) returns (Abe)   { post: "/v1/abe/{uuid}/inner" body: "outer.inner" }
//	  rpc NestedScalar(Abe) returns (Abe) { put: "/v1/abe/{uuid}/label" body: "outer.label" }
//	  rpc DoubleColon(Abe) returns (Abe)  { post: "/v1/abe/{uuid}:custom:custom" body: "*" }
//	  rpc Update(UpdateAbe) returns (UpdateAbe) { patch: "/v1/abe/{abe.uuid}" body: "abe" }
//	  rpc Collect(stream Abe) returns (Abe)     { post: "/v1/abe:collect" }   // no body
//	  rpc Plain(Abe) returns (Abe)        { post: "/v1/abe/{uuid}/plain" }  // no body
//	  rpc Get(Abe) returns (Abe)          { get: "/v1/abe/{uuid}" }
//	}
//
// Every unary method answers its request as it came (the wire bytes), so
// the response shows what the gateway built; Collect answers the
// concatenation of the messages it received (which merges them: repeated
// fields append, the last scalar wins). The backend answers with the
// header metadata x-seen-location holding the "location" metadata it got,
// and fails a call whose metadata "x-fail" holds a gRPC code with
// "backend says no".
func startMirrorBackend(t *testing.T) string {
	t.Helper()
	str := func(s string) *string { return &s }
	opt, rep := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	field := func(name, json string, n int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: str(name), JsonName: str(json), Number: &n, Label: &label, Type: &typ}
		if typeName != "" {
			f.TypeName = str(typeName)
		}
		return f
	}
	const (
		tString = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tInt32  = descriptorpb.FieldDescriptorProto_TYPE_INT32
		tInt64  = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tFloat  = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
		tMsg    = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	type method struct {
		name, in string
		client   bool
		rule     *annotations.HttpRule
	}
	post := func(path, body string) *annotations.HttpRule {
		return &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: path}, Body: body}
	}
	methods := []method{
		{"RepeatedPath", "Abe", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/abe/repeated/{floats}/{strings}/{ints}"}}},
		{"NestedBody", "Abe", false, post("/v1/abe/{uuid}/inner", "outer.inner")},
		{"NestedScalar", "Abe", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Put{Put: "/v1/abe/{uuid}/label"}, Body: "outer.label"}},
		{"DoubleColon", "Abe", false, post("/v1/abe/{uuid}:custom:custom", "*")},
		{"Update", "UpdateAbe", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/v1/abe/{abe.uuid}"}, Body: "abe"}},
		{"Collect", "Abe", true, post("/v1/abe:collect", "")},
		{"Plain", "Abe", false, post("/v1/abe/{uuid}/plain", "")},
		{"Get", "Abe", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/abe/{uuid}"}}},
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: str("Mirror")}
	for _, m := range methods {
		mo := &descriptorpb.MethodOptions{}
		proto.SetExtension(mo, annotations.E_Http, m.rule)
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name: str(m.name), InputType: str(".mirror.v1." + m.in), OutputType: str(".mirror.v1." + m.in),
			Options: mo, ClientStreaming: proto.Bool(m.client),
		})
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: str("mirror/v1/mirror.proto"), Package: str("mirror.v1"), Syntax: str("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/protobuf/struct.proto", "google/protobuf/field_mask.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: str("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
				field("name", "name", 1, opt, tString, ""), field("amount", "amount", 2, opt, tInt32, "")}},
			{Name: str("Outer"), Field: []*descriptorpb.FieldDescriptorProto{
				field("inner", "inner", 1, opt, tMsg, ".mirror.v1.Inner"), field("label", "label", 2, opt, tString, "")}},
			{Name: str("Abe"), Field: []*descriptorpb.FieldDescriptorProto{
				field("uuid", "uuid", 1, opt, tString, ""),
				field("floats", "floats", 2, rep, tFloat, ""),
				field("strings", "strings", 3, rep, tString, ""),
				field("ints", "ints", 4, rep, tInt64, ""),
				field("outer", "outer", 5, opt, tMsg, ".mirror.v1.Outer"),
				field("struct_field", "structField", 6, opt, tMsg, ".google.protobuf.Struct"),
				field("value_field", "valueField", 7, opt, tMsg, ".google.protobuf.Value"),
				field("note", "note", 8, opt, tString, ""),
			}},
			{Name: str("UpdateAbe"), Field: []*descriptorpb.FieldDescriptorProto{
				field("abe", "abe", 1, opt, tMsg, ".mirror.v1.Abe"),
				field("update_mask", "updateMask", 2, opt, tMsg, ".google.protobuf.FieldMask")}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{svc},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	var files protoregistry.Files
	for _, f := range []protoreflect.FileDescriptor{descriptorpb.File_google_protobuf_descriptor_proto,
		annotations.File_google_api_http_proto, annotations.File_google_api_annotations_proto,
		structpb.File_google_protobuf_struct_proto, fieldmaskpb.File_google_protobuf_field_mask_proto, fd} {
		if err := files.RegisterFile(f); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(ctx context.Context) error {
		md, _ := metadata.FromIncomingContext(ctx)
		if loc := md.Get("location"); len(loc) > 0 {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-seen-location", loc[0]))
		}
		if f := md.Get("x-fail"); len(f) > 0 {
			code, _ := strconv.Atoi(f[0])
			return status.Error(codes.Code(code), "backend says no")
		}
		return nil
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	desc := grpc.ServiceDesc{ServiceName: "mirror.v1.Mirror", HandlerType: (*any)(nil)}
	for _, m := range methods {
		if m.client {
			desc.Streams = append(desc.Streams, grpc.StreamDesc{StreamName: m.name, ClientStreams: true,
				Handler: func(_ any, s grpc.ServerStream) error {
					if err := answer(s.Context()); err != nil {
						return err
					}
					var all []byte
					for {
						var in rawFrame
						if err := s.RecvMsg(&in); errors.Is(err, io.EOF) {
							return s.SendMsg(&rawFrame{b: all})
						} else if err != nil {
							return err
						}
						all = append(all, in.b...)
					}
				}})
			continue
		}
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: m.name,
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in rawFrame
				if err := dec(&in); err != nil {
					return nil, err
				}
				if err := answer(ctx); err != nil {
					return nil, err
				}
				return &in, nil
			}})
	}
	srv.RegisterService(&desc, struct{}{})
	reflectionRegister(srv, reflection.NewServerV1(reflection.ServerOptions{Services: srv, DescriptorResolver: &files}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// startMirror runs a gateway in front of the mirror backend; more is
// YAML appended to the upstream's keys.
func startMirror(t *testing.T, more string) *harness {
	t.Helper()
	h := startGateway(t, "upstreams:\n  - name: mirror\n    static: ["+startMirrorBackend(t)+"]\n"+more)
	if un := h.gw.Unrouted()["mirror"]; len(un) > 0 {
		t.Fatalf("methods left unrouted: %q", un)
	}
	return h
}

// TestMappingRepeatedPathFields: a repeated scalar in a path variable takes
// comma-separated elements (grpc-gateway's
// /v1/example/a_bit_of_everything_repeated/{path_repeated_float_value}/…).
func TestMappingRepeatedPathFields(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "GET", "/v1/abe/repeated/1.5,-1.5/a,b%2Cc/3,-4", "").expect(t, 200)
	jsonEq(t, r.body, `{"uuid":"","floats":[1.5,-1.5],"strings":["a","b","c"],"ints":["3","-4"],"outer":null,"structField":null,"valueField":null,"note":""}`)
	r = h.do(t, "GET", "/v1/abe/repeated/1.5,x/a/3", "").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"path variable floats: \"1.5,x\": element \"x\": expected a number","details":[]}`)
}

// TestMappingNestedBodyAndColonVerb: a body naming a nested field (message
// or scalar), and a verb holding a colon.
func TestMappingNestedBodyAndColonVerb(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "POST", "/v1/abe/u1/inner?note=n&outer.label=l", `{"name":"x","amount":2}`).expect(t, 200)
	jsonEq(t, r.body, `{"uuid":"u1","floats":[],"strings":[],"ints":[],"outer":{"inner":{"name":"x","amount":2},"label":"l"},"structField":null,"valueField":null,"note":"n"}`)
	r = h.do(t, "PUT", "/v1/abe/u1/label", `"shelf"`).expect(t, 200)
	if got := field(t, r.body, "outer"); got.(map[string]any)["label"] != "shelf" {
		t.Fatalf("outer = %v", got)
	}
	r = h.do(t, "POST", "/v1/abe/u1:custom:custom", `{"note":"double"}`).expect(t, 200)
	if field(t, r.body, "uuid") != "u1" || field(t, r.body, "note") != "double" {
		t.Fatalf("body %s", r.body)
	}
	// The last colon starts no verb here: "u1:custom" is the uuid of Get.
	r = h.do(t, "GET", "/v1/abe/u1:custom", "").expect(t, 200)
	if field(t, r.body, "uuid") != "u1:custom" {
		t.Fatalf("body %s", r.body)
	}
}

// TestMappingClientStreamWithoutBody: a client-streaming method whose rule
// has no body reads whole messages from the body, as grpc-gateway does.
func TestMappingClientStreamWithoutBody(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "POST", "/v1/abe:collect", "{\"uuid\":\"a\",\"strings\":[\"x\"]}\n{\"uuid\":\"b\",\"strings\":[\"y\"]}\n").expect(t, 200)
	if field(t, r.body, "uuid") != "b" || len(field(t, r.body, "strings").([]any)) != 2 {
		t.Fatalf("body %s", r.body)
	}
}

// TestMappingPatchMaskIntoStruct: the update mask derived from a PATCH body
// names the keys inside Struct and Value fields, as grpc-gateway's does.
func TestMappingPatchMaskIntoStruct(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "PATCH", "/v1/abe/u1",
		`{"struct_field":{"struct_key":{"layered_struct_key":"v"}},"value_field":{"value_struct_key":"v"},"outer":{"label":"l"}}`).expect(t, 200)
	if got := field(t, r.body, "updateMask"); got != "outer.label,structField.structKey.layeredStructKey,valueField.valueStructKey" {
		t.Fatalf("update mask %v", got)
	}
}

// TestMappingUTF8Metadata: a metadata value outside printable ASCII
// reaches the backend percent-encoded; control bytes are refused (a tab is
// the only one HTTP/1.1 lets through to a handler).
func TestMappingUTF8Metadata(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "GET", "/v1/abe/u1", "", "Grpc-Metadata-Location", "Gjøvik").expect(t, 200)
	if got := r.header.Get("Grpc-Metadata-X-Seen-Location"); got != "Gj%C3%B8vik" {
		t.Fatalf("the backend saw %q", got)
	}
	r = h.do(t, "GET", "/v1/abe/u1", "", "Grpc-Metadata-Location", "a\tb").expect(t, 400)
	jsonEq(t, r.body, `{"code":3,"message":"header Grpc-Metadata-Location: value has control byte 0x09 at offset 1; metadata values are text (send binary data base64-encoded in a Grpc-Metadata-*-Bin header)","details":[]}`)
}

// TestMappingUnauthenticatedChallenge: a backend's UNAUTHENTICATED answers
// 401 with WWW-Authenticate set to the status message (grpc-gateway's
// choice); other codes carry none.
func TestMappingUnauthenticatedChallenge(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "GET", "/v1/abe/u1", "", "Grpc-Metadata-X-Fail", "16").expect(t, 401)
	if got := r.header.Values("Www-Authenticate"); len(got) != 1 || got[0] != "backend says no" {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	jsonEq(t, r.body, `{"code":16,"message":"backend says no","details":[]}`)
	r = h.do(t, "GET", "/v1/abe/u1", "", "Grpc-Metadata-X-Fail", "7").expect(t, 403)
	if got := r.header.Get("Www-Authenticate"); got != "" {
		t.Fatalf("WWW-Authenticate on a 403: %q", got)
	}
	// A client stream failing so carries it too.
	r = h.do(t, "POST", "/v1/abe:collect", `{"uuid":"a"}`, "Grpc-Metadata-X-Fail", "16").expect(t, 401)
	if got := r.header.Get("Www-Authenticate"); got != "backend says no" {
		t.Fatalf("WWW-Authenticate %q", got)
	}
}

// TestMappingFormBodyWithoutBodyRule: a form body on a route whose rule has
// no body is refused (its fields would be lost), naming what to do; a JSON
// body there is ignored, as grpc-gateway ignores it.
func TestMappingFormBodyWithoutBodyRule(t *testing.T) {
	h := startMirror(t, "")
	r := h.do(t, "POST", "/v1/abe/u1/plain", "note=x", "Content-Type", "application/x-www-form-urlencoded").expect(t, 415)
	jsonEq(t, r.body, `{"code":3,"message":"request body: this route's rule has no body, so a \"application/x-www-form-urlencoded\" body would be ignored; send the fields in the path and query string","details":[]}`)
	r = h.do(t, "POST", "/v1/abe/u1/plain?note=q", `{"note":"dropped"}`).expect(t, 200)
	if field(t, r.body, "note") != "q" {
		t.Fatalf("body %s", r.body)
	}
	if !strings.Contains(string(r.body), `"uuid":"u1"`) {
		t.Fatalf("body %s", r.body)
	}
}
