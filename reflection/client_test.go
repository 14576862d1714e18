package reflection_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	v1Method      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	v1alphaMethod = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

func fetch(t *testing.T, conn grpc.ClientConnInterface) *reflection.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := reflection.Fetch(ctx, conn)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return snap
}

func TestFetchProtocolVersions(t *testing.T) {
	tests := []struct {
		name        string
		cfg         serverConfig
		wantOpened  []string // reflection streams the client opened, in order
		wantHandled []string // reflection streams the server handled, in order
	}{
		{"v1 only", serverConfig{v1: true}, []string{v1Method}, []string{v1Method}},
		{"both prefers v1", serverConfig{v1: true, v1alpha: true}, []string{v1Method}, []string{v1Method}},
		// grpc-go answers a stream to an unknown service trailers-only,
		// without reaching any handler: the client must fall back on that.
		{"v1alpha only (trailers-only UNIMPLEMENTED)", serverConfig{v1alpha: true},
			[]string{v1Method, v1alphaMethod}, []string{v1alphaMethod}},
		{"v1 fails UNIMPLEMENTED after headers", serverConfig{v1Unimplemented: true, v1alpha: true},
			[]string{v1Method, v1alphaMethod}, []string{v1Method, v1alphaMethod}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := libraryServer(t, schemaOpts{}, tt.cfg)
			conn := &recordingConn{ClientConnInterface: dial(t, srv.addr)}
			snap := fetch(t, conn)

			if got := conn.opened(); !slices.Equal(got, tt.wantOpened) {
				t.Errorf("client opened streams %q, want %q", got, tt.wantOpened)
			}
			if got := srv.streamMethods(); !slices.Equal(got, tt.wantHandled) {
				t.Errorf("server handled streams %q, want %q", got, tt.wantHandled)
			}
			// grpc.reflection.* and grpc.health.* are listed by the server
			// but never routable.
			if got := snap.ServiceNames(); !slices.Equal(got, []string{librarySvc}) {
				t.Errorf("Services = %q, want [%q]", got, librarySvc)
			}
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(snap.Hash) {
				t.Errorf("Hash = %q, want 64 hex digits", snap.Hash)
			}
			if snap.Endpoint != srv.addr {
				t.Errorf("Endpoint = %q, want %q", snap.Endpoint, srv.addr)
			}
			if snap.Upstream != "" {
				t.Errorf("Upstream = %q, want empty for Fetch", snap.Upstream)
			}
			if snap.FetchDuration <= 0 || snap.FetchedAt.IsZero() {
				t.Errorf("FetchDuration = %v, FetchedAt = %v: want both set", snap.FetchDuration, snap.FetchedAt)
			}
			md := snap.Method(librarySvc + ".GetBook")
			if md == nil {
				t.Fatal("GetBook not found")
			}
			if got := md.Input().FullName(); got != libraryPkg+".GetBookRequest" {
				t.Errorf("GetBook input = %s", got)
			}
			// Every transitive dependency is in Files.
			for _, p := range []string{libraryFileName, "google/api/annotations.proto", "google/api/http.proto",
				"google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto", "google/protobuf/any.proto"} {
				if _, err := snap.Files.FindFileByPath(p); err != nil {
					t.Errorf("Files lacks %s: %v", p, err)
				}
			}
			if n := snap.Files.NumFiles(); n != 6 {
				t.Errorf("Files has %d files, want 6 (the library and its transitive deps, nothing else)", n)
			}
		})
	}
}

func TestFetchNoReflection(t *testing.T) {
	srv := startServer(t, serverConfig{}) // neither v1 nor v1alpha
	conn := dial(t, srv.addr)

	_, err := reflection.Fetch(context.Background(), conn)
	if !errors.Is(err, reflection.ErrNoReflection) {
		t.Fatalf("Fetch error = %v, want ErrNoReflection", err)
	}
	if got := status.Code(err); got != codes.Unimplemented {
		t.Errorf("status code = %v, want Unimplemented", got)
	}
	if !strings.HasPrefix(err.Error(), "reflection: list services: server does not implement gRPC reflection") {
		t.Errorf("message = %q", err.Error())
	}

	// Through a Cache the error names the upstream.
	c := newCache(t, reflection.Options{RetryMin: time.Hour, RetryMax: time.Hour})
	if err := c.Add("library", conn); err != nil {
		t.Fatal(err)
	}
	_, err = c.Refresh(context.Background(), "library")
	want := `reflection: upstream "library": list services: server does not implement gRPC reflection (tried v1 and v1alpha): rpc error: code = Unimplemented`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Refresh error = %v, want prefix %q", err, want)
	}
	var rerr *reflection.Error
	if !errors.As(err, &rerr) || rerr.Upstream != "library" || rerr.Code != codes.Unimplemented {
		t.Errorf("error = %#v, want *Error for upstream library with code Unimplemented", rerr)
	}
	st := c.Stats()[0]
	if st.State != reflection.StateFailed || !strings.HasPrefix(st.LastError, want) || st.Failures == 0 {
		t.Errorf("stats = %+v, want failed with the error", st)
	}
}

func TestFetchWellKnownTypesNotServed(t *testing.T) {
	hide := []string{"google/protobuf/timestamp.proto", "google/protobuf/any.proto"}
	files := serverFiles(t, hide, libraryFile(schemaOpts{}))
	srv := libraryServer(t, schemaOpts{}, serverConfig{files: files})
	snap := fetch(t, dial(t, srv.addr))

	book, err := snap.Files.FindDescriptorByName(libraryPkg + ".Book")
	if err != nil {
		t.Fatal(err)
	}
	ct := book.(protoreflect.MessageDescriptor).Fields().ByName("create_time").Message()
	if ct.IsPlaceholder() || ct.FullName() != "google.protobuf.Timestamp" || ct.Fields().Len() != 2 {
		t.Errorf("create_time type = %v (placeholder %v), want the linked-in google.protobuf.Timestamp", ct.FullName(), ct.IsPlaceholder())
	}
	fd, err := snap.Files.FindFileByPath("google/protobuf/timestamp.proto")
	if err != nil {
		t.Fatalf("timestamp.proto not in Files: %v", err)
	}
	if fd != timestamppb.File_google_protobuf_timestamp_proto {
		t.Errorf("timestamp.proto is not the linked-in descriptor")
	}
}

func TestFetchMissingDependency(t *testing.T) {
	o := schemaOpts{extraImport: "acme/common.proto"}
	files := serverFiles(t, []string{"acme/common.proto"}, libraryFile(o))
	srv := libraryServer(t, o, serverConfig{files: files})

	_, err := reflection.Fetch(context.Background(), dial(t, srv.addr))
	if !errors.Is(err, reflection.ErrMissingDescriptor) {
		t.Fatalf("error = %v, want ErrMissingDescriptor", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("code = %v, want NotFound", status.Code(err))
	}
	want := `reflection: service "test.library.v1.Library": descriptor not available: file "acme/common.proto" is neither served by the upstream nor linked in`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message = %q\nwant prefix  %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message spans lines: %q", err)
	}
}

// The gateway reads google.api.http with proto.GetExtension on reflected
// method options: it must decode as the known extension, not unknown bytes.
func TestFetchHTTPAnnotationDecodes(t *testing.T) {
	for _, custom := range []bool{false, true} {
		name := "annotation only"
		if custom {
			name = "with a custom option (options re-decoded)"
		}
		t.Run(name, func(t *testing.T) {
			o := schemaOpts{customOption: custom}
			srv := libraryServer(t, o, serverConfig{})
			snap := fetch(t, dial(t, srv.addr))
			md := snap.Method(librarySvc + ".GetBook")
			if md == nil {
				t.Fatal("GetBook not found")
			}
			opts := md.Options()
			if !proto.HasExtension(opts, annotations.E_Http) {
				t.Fatalf("google.api.http absent from options %v", opts)
			}
			rule, ok := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
			if !ok || rule.GetGet() != getBookHTTP {
				t.Errorf("google.api.http = %v, want get %q", rule, getBookHTTP)
			}
			if unknown := opts.ProtoReflect().GetUnknown(); len(unknown) != 0 {
				t.Errorf("options keep %d unknown bytes", len(unknown))
			}
			if !custom {
				return
			}
			// The upstream's own custom option decodes as a known (dynamic)
			// extension, readable by name.
			var got string
			opts.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				if fd.FullName() == libraryPkg+".scope" {
					got = v.String()
				}
				return true
			})
			if got != "books.read" {
				t.Errorf("custom option %s.scope = %q, want books.read", libraryPkg, got)
			}
			// And through the extension type the snapshot resolves.
			xt, err := snap.Types.FindExtensionByName(libraryPkg + ".scope")
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := proto.GetExtension(opts, xt).(string); v != "books.read" {
				t.Errorf("proto.GetExtension(opts, scope) = %q, want books.read", v)
			}
		})
	}
}

// Files refract links in are the linked descriptors themselves, even when
// the server serves its own copies: dynamic messages then take Go values.
func TestFetchUsesLinkedDescriptors(t *testing.T) {
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	snap := fetch(t, dial(t, srv.addr))
	d, err := snap.Files.FindDescriptorByName(libraryPkg + ".Book")
	if err != nil {
		t.Fatal(err)
	}
	book := d.(protoreflect.MessageDescriptor)
	ct := book.Fields().ByName("create_time")
	if ct.Message() != (&timestamppb.Timestamp{}).ProtoReflect().Descriptor() {
		t.Fatal("create_time's type is not the linked google.protobuf.Timestamp descriptor")
	}
	msg := dynamicpb.NewMessage(book)
	ts := timestamppb.New(time.Unix(1700000000, 0))
	msg.Set(ct, protoreflect.ValueOfMessage(ts.ProtoReflect()))
	if got := msg.Get(ct).Message().Interface().(*timestamppb.Timestamp); got.GetSeconds() != 1700000000 {
		t.Errorf("create_time = %v", got)
	}
}

func TestFetchHashDeterministic(t *testing.T) {
	v1 := libraryServer(t, schemaOpts{}, serverConfig{})
	v1b := libraryServer(t, schemaOpts{}, serverConfig{v1alpha: true}) // same schema, other server, other protocol
	v2 := libraryServer(t, schemaOpts{version: 2}, serverConfig{})

	a, b, c := fetch(t, dial(t, v1.addr)), fetch(t, dial(t, v1b.addr)), fetch(t, dial(t, v2.addr))
	if again := fetch(t, dial(t, v1.addr)); again.Hash != a.Hash {
		t.Errorf("hash changed between two fetches of one schema: %s vs %s", a.Hash, again.Hash)
	}
	if a.Hash != b.Hash {
		t.Errorf("same schema from two servers hashes differently: %s vs %s", a.Hash, b.Hash)
	}
	if a.Hash == c.Hash {
		t.Errorf("changed schema kept hash %s", a.Hash)
	}
}

func TestFetchContextDeadline(t *testing.T) {
	gate := make(chan struct{})
	defer close(gate)
	srv := libraryServer(t, schemaOpts{}, serverConfig{gate: gate})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := reflection.Fetch(ctx, dial(t, srv.addr))
	// The server may give up first (grpc-timeout) or the client: either way
	// the code is DeadlineExceeded.
	if status.Code(err) != codes.DeadlineExceeded || !strings.HasPrefix(err.Error(), "reflection: list services: ") {
		t.Fatalf("error = %v (code %v), want DeadlineExceeded", err, status.Code(err))
	}
}
