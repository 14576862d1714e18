package reflection_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// benchFile is a service of 25 methods over 50 messages, each with scalar,
// nested, repeated and well-known-type fields, and http annotations.
func benchFile() *descriptorpb.FileDescriptorProto {
	const pkg = "bench.v1"
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("bench/v1/bench.proto"),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/protobuf/timestamp.proto"},
	}
	const messages = 50
	for i := range messages {
		fdp.MessageType = append(fdp.MessageType, &descriptorpb.DescriptorProto{
			Name: proto.String(fmt.Sprintf("M%d", i)),
			Field: []*descriptorpb.FieldDescriptorProto{
				scalar("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
				scalar("count", 2, descriptorpb.FieldDescriptorProto_TYPE_INT64),
				scalar("enabled", 3, descriptorpb.FieldDescriptorProto_TYPE_BOOL),
				msgField("next", 4, fmt.Sprintf(".%s.M%d", pkg, (i+1)%messages), false),
				msgField("items", 5, fmt.Sprintf(".%s.M%d", pkg, (i+7)%messages), true),
				msgField("update_time", 6, ".google.protobuf.Timestamp", false),
			},
		})
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Bench")}
	for i := range messages / 2 {
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{
			Pattern: &annotations.HttpRule_Post{Post: fmt.Sprintf("/v1/m%d", i)}, Body: "*",
		})
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name:       proto.String(fmt.Sprintf("Call%d", i)),
			InputType:  proto.String(fmt.Sprintf(".%s.M%d", pkg, 2*i)),
			OutputType: proto.String(fmt.Sprintf(".%s.M%d", pkg, 2*i+1)),
			Options:    opts,
		})
	}
	fdp.Service = []*descriptorpb.ServiceDescriptorProto{svc}
	return fdp
}

// BenchmarkFetch measures one full fetch (list services, the service's file
// and its dependencies over loopback, build, hash) of a 50-message service.
func BenchmarkFetch(b *testing.B) {
	srv := startServer(b, serverConfig{
		files:    serverFiles(b, nil, benchFile()),
		services: []string{"bench.v1.Bench", "grpc.reflection.v1.ServerReflection"},
		v1:       true,
	})
	conn := dial(b, srv.addr)
	ctx := context.Background()
	if _, err := reflection.Fetch(ctx, conn); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, err := reflection.Fetch(ctx, conn)
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Services) != 1 || snap.MethodCount() != 25 {
			b.Fatalf("fetched %d services, %d methods", len(snap.Services), snap.MethodCount())
		}
	}
}
