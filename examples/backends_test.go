package examples

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/refract-gateway/refract/examples/echo/echopb"
)

// reflectV1 asks the v1 reflection service one question.
func reflectV1(t *testing.T, conn *grpc.ClientConn, req *rpb.ServerReflectionRequest) *rpb.ServerReflectionResponse {
	t.Helper()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	resp := reflectV1(t, conn, &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

func TestReflectionListsServices(t *testing.T) {
	want := map[string]func(string, ...grpc.ServerOption) (*Backend, error){
		"library.v1.LibraryService": StartLibrary,
		"echo.v1.EchoService":       StartEcho,
	}
	for service, start := range want {
		t.Run(service, func(t *testing.T) {
			_, conn := startBackend(t, start)
			got := strings.Join(listServices(t, conn), ",")
			wantList := strings.Join(slices.Sorted(slices.Values([]string{
				service,
				"grpc.health.v1.Health",
				"grpc.reflection.v1.ServerReflection",
				"grpc.reflection.v1alpha.ServerReflection",
			})), ",")
			if got != wantList {
				t.Fatalf("services = %s\nwant       %s", got, wantList)
			}

			// The v1alpha protocol answers too, for clients that only speak it.
			stream, err := rpbalpha.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer stream.CloseSend()
			if err := stream.Send(&rpbalpha.ServerReflectionRequest{
				MessageRequest: &rpbalpha.ServerReflectionRequest_ListServices{}}); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(resp.GetListServicesResponse().GetService(),
				func(s *rpbalpha.ServiceResponse) bool { return s.GetName() == service }) {
				t.Fatalf("v1alpha services = %v, want %s among them", resp.GetListServicesResponse(), service)
			}
		})
	}
}

// TestReflectionCarriesHTTPRules checks what the gateway depends on: the descriptors
// served by reflection keep the google.api.http options.
func TestReflectionCarriesHTTPRules(t *testing.T) {
	_, conn := startBackend(t, StartLibrary)
	resp := reflectV1(t, conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "library.v1.LibraryService"},
	})
	var file *descriptorpb.FileDescriptorProto
	for _, raw := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, fd); err != nil {
			t.Fatal(err)
		}
		if fd.GetName() == "library/v1/library.proto" {
			file = fd
		}
	}
	if file == nil {
		t.Fatalf("reflection did not return library/v1/library.proto")
	}
	rules := map[string]string{}
	for _, m := range file.GetService()[0].GetMethod() {
		rule, _ := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule)
		rules[m.GetName()] = rule.String()
	}
	if len(rules) != 15 {
		t.Fatalf("got %d methods, want 15", len(rules))
	}
	for method, want := range map[string][]string{
		"GetBook":      {`get:"/v1/{name=shelves/*/books/*}"`, `additional_bindings:{get:"/v1/{name=authors/*/books/*}"}`},
		"GetBookTitle": {`response_body:"title"`},
		"LockBook":     {`custom:{kind:"LOCK"`, `path:"/v1/{name=shelves/*/books/*}"`, `body:"*"`},
		"UpdateBook":   {`patch:"/v1/{book.name=shelves/*/books/*}"`, `body:"book"`},
	} {
		for _, w := range want {
			if !strings.Contains(strings.ReplaceAll(rules[method], " ", ""), strings.ReplaceAll(w, " ", "")) {
				t.Errorf("%s rule = %s, want it to contain %s", method, rules[method], w)
			}
		}
	}
}

func TestHealth(t *testing.T) {
	_, conn := startBackend(t, StartEcho)
	h := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", "echo.v1.EchoService"} {
		resp, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q) = %v, %v", service, resp, err)
		}
	}
}

func TestStartOnBusyAddress(t *testing.T) {
	b, _ := startBackend(t, StartEcho)
	if other, err := StartEcho(b.Addr); err == nil {
		other.Stop()
		t.Fatalf("second StartEcho on %s succeeded", b.Addr)
	}
	if _, err := StartLibrary("not an address"); err == nil {
		t.Fatal("StartLibrary with a bad address succeeded")
	}
}

// TestStopCutsOffOpenStreams checks that Stop waits for calls in flight, but not past
// its grace period: an open Chat never ends on its own.
func TestStopCutsOffOpenStreams(t *testing.T) {
	b, conn := startBackend(t, StartEcho)
	b.grace = 200 * time.Millisecond
	stream, err := echopb.NewEchoServiceClient(conn).Chat(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&echopb.EchoRequest{Message: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	var wg sync.WaitGroup
	for range 3 { // concurrent Stops all wait for the one stop
		wg.Go(b.Stop)
	}
	wg.Wait()
	if took := time.Since(began); took < b.grace || took > b.grace+5*time.Second {
		t.Fatalf("Stop took %v, want a little over the %v grace", took, b.grace)
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream still open after Stop")
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := b.Err(); err != nil {
		t.Fatalf("Err after Stop = %v, want nil", err)
	}
	if c, err := net.DialTimeout("tcp", b.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", b.Addr)
	}
}

// The v2 build serves its extra method and describes it through
// reflection, so a gateway can route it.
func TestLibraryV2AddsAMethod(t *testing.T) {
	b, err := StartLibraryV2("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	conn, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := new(wrapperspb.StringValue)
	if err := conn.Invoke(context.Background(), "/library.v1.LibraryService/GetServerVersion", new(emptypb.Empty), out); err != nil || out.GetValue() != "v2" {
		t.Fatalf("GetServerVersion = %q, %v", out.GetValue(), err)
	}
	resp := reflectV1(t, conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "library.v1.LibraryService"},
	})
	fdp := new(descriptorpb.FileDescriptorProto)
	if err := proto.Unmarshal(resp.GetFileDescriptorResponse().GetFileDescriptorProto()[0], fdp); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range fdp.GetService()[0].GetMethod() {
		names = append(names, m.GetName())
	}
	if !slices.Contains(names, "GetServerVersion") || !slices.Contains(names, "GetBook") {
		t.Fatalf("reflected methods = %v", names)
	}
}
