package reflection_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// writeDescriptorSet writes files (with their imports) as a binary
// FileDescriptorSet, as protoc --include_imports would, and returns its path.
func writeDescriptorSet(t testing.TB, files *protoregistry.Files) string {
	t.Helper()
	var set descriptorpb.FileDescriptorSet
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		return true
	})
	data, err := proto.Marshal(&set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "library.binpb")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFilesServeABackendWithoutReflection(t *testing.T) {
	files := serverFiles(t, nil, libraryFile(schemaOpts{version: 2}))
	srv := startServer(t, serverConfig{files: files}) // no reflection service at all
	c := newCache(t, reflection.Options{})
	err := c.AddWith("library", dial(t, srv.addr), reflection.UpstreamOptions{
		Sources: []reflection.Source{reflection.SourceReflection, reflection.SourceFiles},
		Files:   []string{writeDescriptorSet(t, files)},
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Refresh(context.Background(), "library")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != reflection.SourceFiles || !slices.Equal(snap.MethodNames(), []string{librarySvc + ".GetBook", librarySvc + ".ListBooks"}) {
		t.Fatalf("source %s, methods %v", snap.Source, snap.MethodNames())
	}
	// The set is the files' own: downloading it gives back what was read.
	set := snap.DescriptorSet()
	if _, err := protodesc.NewFiles(set); err != nil {
		t.Fatalf("the snapshot's descriptor set does not build: %v", err)
	}
	if st := c.Stats()[0]; st.State != reflection.StateReady || st.Source != reflection.SourceFiles ||
		!strings.Contains(st.LastError, "server does not implement gRPC reflection") || !strings.HasSuffix(st.LastError, "; served from files") {
		t.Fatalf("stats %+v", st)
	}
}

func TestFilesSourceErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.binpb")
	if err := os.WriteFile(garbage, []byte("not a descriptor set \xff\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, reflection.Options{})
	conn := dial(t, "127.0.0.1:1")
	err := c.AddWith("broken", conn, reflection.UpstreamOptions{Sources: []reflection.Source{reflection.SourceFiles}, Files: []string{garbage}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Refresh(context.Background(), "broken")
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "is not a binary FileDescriptorSet") {
		t.Fatalf("err %v", err)
	}
	for _, o := range []reflection.UpstreamOptions{
		{Sources: []reflection.Source{"consul"}},
		{Sources: []reflection.Source{reflection.SourceFiles}},
		{Files: []string{garbage}},
		{Metadata: map[string]string{"Authorization": "x"}},
		{Metadata: map[string]string{"grpc-timeout": "1S"}},
	} {
		if err := c.AddWith("bad", conn, o); status.Code(err) != codes.InvalidArgument {
			t.Errorf("AddWith(%+v) = %v, want InvalidArgument", o, err)
		}
	}
}

// mdConn records the outgoing metadata of every stream opened through it.
type mdConn struct {
	grpc.ClientConnInterface
	mu  sync.Mutex
	got []metadata.MD
}

func (m *mdConn) NewStream(ctx context.Context, sd *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	md, _ := metadata.FromOutgoingContext(ctx)
	m.mu.Lock()
	m.got = append(m.got, md)
	m.mu.Unlock()
	return m.ClientConnInterface.NewStream(ctx, sd, method, opts...)
}

func TestReflectionCallsCarryMetadataAndTheirTimeout(t *testing.T) {
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	conn := &mdConn{ClientConnInterface: dial(t, srv.addr)}
	c := newCache(t, reflection.Options{FetchTimeout: time.Hour})
	if err := c.AddWith("library", conn, reflection.UpstreamOptions{Metadata: map[string]string{"authorization": "Bearer s3cret"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(context.Background(), "library"); err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	if len(conn.got) == 0 || !slices.Equal(conn.got[0].Get("authorization"), []string{"Bearer s3cret"}) {
		t.Fatalf("metadata sent: %v", conn.got)
	}
	conn.mu.Unlock()

	// A backend that never answers: the upstream's own timeout ends the
	// fetch, not the cache's hour.
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	slow := libraryServer(t, schemaOpts{}, serverConfig{gate: gate})
	if err := c.AddWith("slow", dial(t, slow.addr), reflection.UpstreamOptions{Timeout: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Refresh(context.Background(), "slow")
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err %v, want DEADLINE_EXCEEDED", err)
	}
	if p := c.Problem("slow"); !strings.HasPrefix(p, `upstream "slow" has no descriptors yet: list services: `) || !strings.Contains(p, "deadline exceeded") {
		t.Fatalf("problem %q", p)
	}
}

func TestFallbackNeverReplacesAnEarlierSource(t *testing.T) {
	files := serverFiles(t, nil, libraryFile(schemaOpts{version: 1}))
	srv := libraryServer(t, schemaOpts{version: 2}, serverConfig{})
	c := newCache(t, reflection.Options{})
	if err := c.AddWith("library", dial(t, srv.addr), reflection.UpstreamOptions{
		Sources: []reflection.Source{reflection.SourceReflection, reflection.SourceFiles},
		Files:   []string{writeDescriptorSet(t, files)},
	}); err != nil {
		t.Fatal(err)
	}
	first, err := c.Refresh(context.Background(), "library")
	if err != nil || first.Source != reflection.SourceReflection {
		t.Fatalf("first fetch: %v, %v", first, err)
	}
	srv.stop()
	if _, err := c.Refresh(context.Background(), "library"); err == nil || !strings.Contains(err.Error(), "keeping the set from reflection") ||
		!strings.Contains(err.Error(), "list services: upstream unreachable") {
		t.Fatalf("err %v", err)
	}
	if got := c.Snapshot("library"); got != first || c.Stats()[0].State != reflection.StateStale {
		t.Fatalf("snapshot %v, stats %+v", got, c.Stats()[0])
	}
}
