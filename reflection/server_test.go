package reflection_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcreflection "google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Test schemas are built here from descriptorpb and served by grpc-go's own
// reflection server (reflection.NewServerV1 / NewServer with a
// DescriptorResolver): real servers on loopback, no handlers needed.

const (
	libraryFileName = "test/library/v1/library.proto"
	libraryPkg      = "test.library.v1"
	librarySvc      = libraryPkg + ".Library"
	getBookHTTP     = "/v1/{name=shelves/*/books/*}"
	scopeOptionNum  = 50001
)

// schemaOpts varies the library schema.
type schemaOpts struct {
	version      int  // 2 adds ListBooks and its messages
	customOption bool // declare and use a custom method option (test.library.v1.scope)
	extraImport  string
}

func label(repeated bool) *descriptorpb.FieldDescriptorProto_Label {
	if repeated {
		return descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	}
	return descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
}

func scalar(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: label(false), Type: typ.Enum()}
}

func msgField(name string, num int32, typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(num), Label: label(repeated),
		Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(typeName),
	}
}

func method(name, in, out string, opts *descriptorpb.MethodOptions) *descriptorpb.MethodDescriptorProto {
	return &descriptorpb.MethodDescriptorProto{
		Name: proto.String(name), InputType: proto.String("." + libraryPkg + "." + in),
		OutputType: proto.String("." + libraryPkg + "." + out), Options: opts,
	}
}

func libraryFile(o schemaOpts) *descriptorpb.FileDescriptorProto {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	getOpts := &descriptorpb.MethodOptions{}
	proto.SetExtension(getOpts, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: getBookHTTP}})
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(libraryFileName),
		Package:    proto.String(libraryPkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/protobuf/timestamp.proto", "google/protobuf/any.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Book"), Field: []*descriptorpb.FieldDescriptorProto{
				scalar("name", 1, str), scalar("title", 2, str),
				msgField("create_time", 3, ".google.protobuf.Timestamp", false),
				msgField("metadata", 4, ".google.protobuf.Any", false),
			}},
			{Name: proto.String("GetBookRequest"), Field: []*descriptorpb.FieldDescriptorProto{scalar("name", 1, str)}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Library"),
			Method: []*descriptorpb.MethodDescriptorProto{method("GetBook", "GetBookRequest", "Book", getOpts)},
		}},
	}
	if o.version >= 2 {
		fdp.MessageType = append(fdp.MessageType,
			&descriptorpb.DescriptorProto{Name: proto.String("ListBooksRequest"), Field: []*descriptorpb.FieldDescriptorProto{scalar("parent", 1, str)}},
			&descriptorpb.DescriptorProto{Name: proto.String("ListBooksResponse"), Field: []*descriptorpb.FieldDescriptorProto{msgField("books", 1, "."+libraryPkg+".Book", true)}},
		)
		svc := fdp.Service[0]
		svc.Method = append(svc.Method, method("ListBooks", "ListBooksRequest", "ListBooksResponse", nil))
	}
	if o.customOption {
		fdp.Dependency = append(fdp.Dependency, "google/protobuf/descriptor.proto")
		fdp.Extension = append(fdp.Extension, &descriptorpb.FieldDescriptorProto{
			Name: proto.String("scope"), Number: proto.Int32(scopeOptionNum), Label: label(false),
			Type: str.Enum(), Extendee: proto.String(".google.protobuf.MethodOptions"), JsonName: proto.String("scope"),
		})
		// The server has no Go type for it: the option travels as an unknown
		// field, as it does from any backend with custom options.
		raw := protowire.AppendTag(nil, scopeOptionNum, protowire.BytesType)
		raw = protowire.AppendString(raw, "books.read")
		getOpts.ProtoReflect().SetUnknown(raw)
	}
	if o.extraImport != "" {
		fdp.Dependency = append(fdp.Dependency, o.extraImport)
		fdp.MessageType[0].Field = append(fdp.MessageType[0].Field, msgField("shelf", 9, ".acme.common.Shelf", false))
	}
	return fdp
}

// hiddenFile declares messages that no service refers to: only a lazy lookup
// by symbol can find them.
func hiddenFile() *descriptorpb.FileDescriptorProto {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("test/library/v1/hidden.proto"),
		Package: proto.String(libraryPkg),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Hidden"), Field: []*descriptorpb.FieldDescriptorProto{scalar("secret", 1, str)}},
			{Name: proto.String("AlsoHidden"), Field: []*descriptorpb.FieldDescriptorProto{scalar("code", 1, str)}},
		},
	}
}

// chainResolver resolves from each resolver in turn.
type chainResolver []protodesc.Resolver

func (c chainResolver) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	for _, r := range c {
		if fd, err := r.FindFileByPath(p); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (c chainResolver) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, r := range c {
		if d, err := r.FindDescriptorByName(n); err == nil {
			return d, nil
		}
	}
	return nil, protoregistry.NotFound
}

// serverFiles builds a server-side registry holding fdps and every import
// (taken from the test binary's linked registry). Imports listed in hide are
// kept out: the files refer to them but the server cannot serve them, like a
// backend built with a custom descriptor source.
func serverFiles(t testing.TB, hide []string, fdps ...*descriptorpb.FileDescriptorProto) *protoregistry.Files {
	t.Helper()
	files := new(protoregistry.Files)
	hidden := func(p string) bool {
		for _, h := range hide {
			if h == p {
				return true
			}
		}
		return false
	}
	var register func(fd protoreflect.FileDescriptor)
	register = func(fd protoreflect.FileDescriptor) {
		if fd.IsPlaceholder() || hidden(fd.Path()) {
			return
		}
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatalf("register %s: %v", fd.Path(), err)
		}
		for i := range fd.Imports().Len() {
			register(fd.Imports().Get(i).FileDescriptor)
		}
	}
	linkedOnly := filterResolver{r: protoregistry.GlobalFiles, hidden: hidden}
	for _, fdp := range fdps {
		fd, err := protodesc.FileOptions{AllowUnresolvable: len(hide) > 0}.New(fdp, chainResolver{files, linkedOnly})
		if err != nil {
			t.Fatalf("build %s: %v", fdp.GetName(), err)
		}
		register(fd)
	}
	return files
}

type filterResolver struct {
	r      protodesc.Resolver
	hidden func(string) bool
}

func (f filterResolver) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	if f.hidden(p) {
		return nil, protoregistry.NotFound
	}
	return f.r.FindFileByPath(p)
}

func (f filterResolver) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := f.r.FindDescriptorByName(n)
	if err != nil || f.hidden(d.ParentFile().Path()) {
		return nil, protoregistry.NotFound
	}
	return d, nil
}

// serviceList is the ServiceInfoProvider of a test server: the listed names.
type serviceList []string

func (s serviceList) GetServiceInfo() map[string]grpc.ServiceInfo {
	m := make(map[string]grpc.ServiceInfo, len(s))
	for _, n := range s {
		m[n] = grpc.ServiceInfo{}
	}
	return m
}

// serverConfig describes a test backend.
type serverConfig struct {
	files    *protoregistry.Files
	services []string // listed services; default: the library service plus reflection and health
	v1       bool     // serve grpc.reflection.v1
	v1alpha  bool     // serve grpc.reflection.v1alpha
	// v1Unimplemented registers a v1 handler that sends headers and then
	// fails UNIMPLEMENTED (not a trailers-only answer).
	v1Unimplemented bool
	addr            string        // listen address; default 127.0.0.1:0
	gate            chan struct{} // if set, reflection streams wait until it is closed
}

// testServer is a running backend.
type testServer struct {
	addr    string
	srv     *grpc.Server
	mu      sync.Mutex
	methods []string     // reflection stream methods, in order
	streams atomic.Int32 // reflection streams started
}

func (s *testServer) stop() { s.srv.Stop() }

func (s *testServer) streamMethods() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.methods...)
}

func startServer(t testing.TB, cfg serverConfig) *testServer {
	t.Helper()
	addr := cfg.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	for range 50 { // a just-closed port can take a moment to be free again
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	ts := &testServer{addr: lis.Addr().String()}
	ts.srv = grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if strings.HasPrefix(info.FullMethod, "/grpc.reflection.") {
			ts.streams.Add(1)
			ts.mu.Lock()
			ts.methods = append(ts.methods, info.FullMethod)
			ts.mu.Unlock()
			if cfg.gate != nil {
				select {
				case <-cfg.gate:
				case <-ss.Context().Done():
					return ss.Context().Err()
				}
			}
		}
		return handler(srv, ss)
	}))
	services := cfg.services
	if services == nil {
		services = []string{librarySvc, "grpc.reflection.v1.ServerReflection", "grpc.health.v1.Health"}
	}
	opts := grpcreflection.ServerOptions{Services: serviceList(services), DescriptorResolver: cfg.files}
	if cfg.v1 {
		reflectionv1.RegisterServerReflectionServer(ts.srv, grpcreflection.NewServerV1(opts))
	}
	if cfg.v1Unimplemented {
		reflectionv1.RegisterServerReflectionServer(ts.srv, unimplementedV1{})
	}
	if cfg.v1alpha {
		reflectionv1alpha.RegisterServerReflectionServer(ts.srv, grpcreflection.NewServer(opts))
	}
	go func() { _ = ts.srv.Serve(lis) }()
	t.Cleanup(ts.srv.Stop)
	return ts
}

// unimplementedV1 answers every v1 stream with headers, then UNIMPLEMENTED.
type unimplementedV1 struct {
	reflectionv1.UnimplementedServerReflectionServer
}

func (unimplementedV1) ServerReflectionInfo(stream reflectionv1.ServerReflection_ServerReflectionInfoServer) error {
	if err := stream.SendHeader(metadata.Pairs("x-test", "1")); err != nil {
		return err
	}
	return status.Error(codes.Unimplemented, "v1 disabled by test")
}

// dial connects to addr over loopback with a fast reconnect backoff, so that
// tests of backends coming and going do not wait on grpc-go's default 1s+.
func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.5, MaxDelay: 50 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// libraryServer starts a backend serving the library schema.
func libraryServer(t testing.TB, o schemaOpts, cfg serverConfig) *testServer {
	t.Helper()
	if cfg.files == nil {
		cfg.files = serverFiles(t, nil, libraryFile(o), hiddenFile())
	}
	if !cfg.v1 && !cfg.v1alpha && !cfg.v1Unimplemented {
		cfg.v1 = true
	}
	return startServer(t, cfg)
}

// gatedConn holds every new stream until gate is closed.
type gatedConn struct {
	grpc.ClientConnInterface
	gate chan struct{}
}

func (g gatedConn) NewStream(ctx context.Context, sd *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.ClientConnInterface.NewStream(ctx, sd, method, opts...)
}

// recordingConn records the methods of the streams opened through it.
type recordingConn struct {
	grpc.ClientConnInterface
	mu      sync.Mutex
	methods []string
}

func (r *recordingConn) NewStream(ctx context.Context, sd *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	r.mu.Lock()
	r.methods = append(r.methods, method)
	r.mu.Unlock()
	return r.ClientConnInterface.NewStream(ctx, sd, method, opts...)
}

func (r *recordingConn) opened() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.methods...)
}

// fakeClock is a clock tests can move forward.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *fakeClock) String() string {
	return fmt.Sprintf("fakeClock(+%v)", time.Duration(c.offset.Load()))
}
