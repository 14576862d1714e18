package transcode

import (
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
)

// upstreamFiles builds the descriptors an upstream would serve: a service
// taking and returning an Any-holding message, and a message type of its
// own (acme.v1.Widget) that is linked into nothing, so only a resolver built
// from these files can know it.
func upstreamFiles(t *testing.T) (*protoregistry.Files, protoreflect.MethodDescriptor) {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("acme/v1/any.proto"),
		Package:    proto.String("acme.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/any.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Widget"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("size"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("size")},
			}},
			{Name: proto.String("Holder"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("payload"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Any"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("payload")},
			}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Store"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Put"), InputType: proto.String(".acme.v1.Holder"), OutputType: proto.String(".acme.v1.Holder")}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	files := new(protoregistry.Files)
	for _, f := range []protoreflect.FileDescriptor{fd, librarypb.File_library_v1_library_proto} {
		if err := files.RegisterFile(f); err != nil {
			t.Fatal(err)
		}
	}
	return files, fd.Services().Get(0).Methods().Get(0)
}

func TestAnyResolvedWithUpstreamTypes(t *testing.T) {
	files, md := upstreamFiles(t)
	res := dynamicpb.NewTypes(files)
	bs, err := Compile(md, DefaultRule(md), Options{Resolver: res, OmitUnpopulated: true})
	if err != nil {
		t.Fatal(err)
	}
	b := bs[0]
	body := `{"payload":{"@type":"type.googleapis.com/acme.v1.Widget","size":"7"}}`
	req, err := b.DecodeRequest(Request{Body: []byte(body), ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := b.EncodeResponse(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, out, "application/json"); got != body {
		t.Fatalf("round trip %s, want %s", got, body)
	}

	// Without the upstream's types the same body is a clear 400.
	plain, _ := Compile(md, DefaultRule(md), Options{})
	_, err = plain[0].DecodeRequest(Request{Body: []byte(body)})
	if err == nil || !strings.Contains(err.Error(), `unable to resolve "type.googleapis.com/acme.v1.Widget"`) {
		t.Fatalf("error = %v", err)
	}

	// Error details of the upstream's own types render through its resolver.
	w := dynamicpb.NewMessage(md.Input().ParentFile().Messages().ByName("Widget"))
	w.Set(w.Descriptor().Fields().ByName("size"), protoreflect.ValueOfInt64(3))
	detail, err := anypb.New(w)
	if err != nil {
		t.Fatal(err)
	}
	got := compact(t, b.EncodeError(&spb.Status{Code: 3, Message: "m", Details: []*anypb.Any{detail}}), "application/json")
	if want := `{"code":3,"message":"m","details":[{"@type":"type.googleapis.com/acme.v1.Widget","size":"3"}]}`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
