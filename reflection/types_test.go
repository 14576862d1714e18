package reflection_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TypeResolver must be usable wherever protobuf-go takes a resolver.
var (
	_ protoregistry.MessageTypeResolver   = (*reflection.TypeResolver)(nil)
	_ protoregistry.ExtensionTypeResolver = (*reflection.TypeResolver)(nil)
)

// readySnapshot starts a backend, adds it to a cache and waits for its set.
func readySnapshot(t *testing.T, o reflection.Options, cfg serverConfig) (*reflection.Snapshot, *testServer) {
	t.Helper()
	srv := libraryServer(t, schemaOpts{customOption: true}, cfg)
	if o.RefreshInterval == 0 {
		o.RefreshInterval = time.Hour
	}
	c := newCache(t, o)
	if err := c.Add("library", dial(t, srv.addr)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "ready", func() bool { return c.Snapshot("library") != nil })
	return c.Snapshot("library"), srv
}

func TestTypeResolverAnyRoundTrip(t *testing.T) {
	snap, _ := readySnapshot(t, reflection.Options{}, serverConfig{})

	// A request body carrying an Any of an upstream type, with a nested Any
	// of a well-known type.
	in := `{"name":"shelves/1/books/2","metadata":{"@type":"type.googleapis.com/test.library.v1.Book",` +
		`"title":"Dune","metadata":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.500s"}}}`
	bookType, err := snap.Types.FindMessageByName(libraryPkg + ".Book")
	if err != nil {
		t.Fatal(err)
	}
	book := bookType.New().Interface()
	if err := (protojson.UnmarshalOptions{Resolver: snap.Types}).Unmarshal([]byte(in), book); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	out, err := protojson.MarshalOptions{Resolver: snap.Types}.Marshal(book)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for _, want := range []string{`"@type":"type.googleapis.com/test.library.v1.Book"`, `"title":"Dune"`,
		`"@type":"type.googleapis.com/google.protobuf.Duration"`, `"value":"1.500s"`} {
		if !strings.Contains(strings.ReplaceAll(string(out), " ", ""), want) {
			t.Errorf("output %s lacks %s", out, want)
		}
	}

	// Well-known types resolve to their Go types.
	dt, err := snap.Types.FindMessageByURL("type.googleapis.com/google.protobuf.Duration")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dt.New().Interface().(*durationpb.Duration); !ok {
		t.Errorf("Duration resolved to %T, want *durationpb.Duration", dt.New().Interface())
	}
	// Upstream types are dynamic, and cached.
	if _, ok := book.(*dynamicpb.Message); !ok {
		t.Errorf("Book is %T, want *dynamicpb.Message", book)
	}
	again, _ := snap.Types.FindMessageByName(libraryPkg + ".Book")
	if again != bookType {
		t.Error("upstream type not cached")
	}
	if _, err := snap.Types.FindMessageByName(librarySvc); err == nil {
		t.Error("a service resolved as a message")
	}
}

// google.rpc error details resolve to the linked-in Go types even though
// this upstream serves none of them.
func TestTypeResolverErrorDetails(t *testing.T) {
	snap, srv := readySnapshot(t, reflection.Options{}, serverConfig{})
	if _, err := snap.Files.FindFileByPath("google/rpc/error_details.proto"); err == nil {
		t.Fatal("test premise: the upstream must not serve error_details.proto")
	}
	streams := srv.streams.Load()

	detail, err := anypb.New(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "name", Description: "must not be empty"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	st := &rpcstatus.Status{Code: 3, Message: "invalid book", Details: []*anypb.Any{detail}}
	out, err := protojson.MarshalOptions{Resolver: snap.Types}.Marshal(st)
	if err != nil {
		t.Fatalf("marshal status: %v", err)
	}
	compact := strings.ReplaceAll(string(out), " ", "")
	if !strings.Contains(compact, `"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"name","description":"mustnotbeempty"}]`) {
		t.Errorf("status JSON = %s", out)
	}
	for _, name := range []string{"google.rpc.BadRequest", "google.rpc.ErrorInfo", "google.rpc.RetryInfo",
		"google.rpc.QuotaFailure.Violation", "google.rpc.LocalizedMessage", "google.rpc.Status"} {
		mt, err := snap.Types.FindMessageByName(protoreflect.FullName(name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, dynamic := mt.New().Interface().(*dynamicpb.Message); dynamic {
			t.Errorf("%s resolved to a dynamic type, want the Go type", name)
		}
	}
	if got := srv.streams.Load(); got != streams {
		t.Errorf("resolving linked types asked the upstream (%d streams)", got-streams)
	}
}

func TestTypeResolverLazyFetch(t *testing.T) {
	clock := &fakeClock{}
	snap, srv := readySnapshot(t, reflection.Options{Now: clock.now, TypeLookupNegativeTTL: time.Minute}, serverConfig{})
	if _, err := snap.Files.FindDescriptorByName(libraryPkg + ".Hidden"); err == nil {
		t.Fatal("test premise: Hidden must not be in the snapshot")
	}
	base := srv.streams.Load()

	// Unknown to the snapshot, known to the upstream: fetched by symbol.
	payload := `{"@type":"type.googleapis.com/test.library.v1.Hidden","secret":"s3"}`
	var a anypb.Any
	if err := (protojson.UnmarshalOptions{Resolver: snap.Types}).Unmarshal([]byte(payload), &a); err != nil {
		t.Fatalf("unmarshal Any of a lazily fetched type: %v", err)
	}
	if got := srv.streams.Load() - base; got != 1 {
		t.Errorf("lazy fetch used %d streams, want 1", got)
	}
	out, err := protojson.MarshalOptions{Resolver: snap.Types}.Marshal(&a)
	if err != nil || !strings.Contains(string(out), `"secret":"s3"`) {
		t.Errorf("marshal back = %s, %v", out, err)
	}
	if got := srv.streams.Load() - base; got != 1 {
		t.Errorf("second use fetched again (%d streams)", got)
	}

	// Concurrent lookups of one unknown name collapse into one fetch.
	base = srv.streams.Load()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := snap.Types.FindMessageByName(libraryPkg + ".AlsoHidden"); err != nil {
				t.Errorf("AlsoHidden: %v", err)
			}
		})
	}
	wg.Wait()
	if got := srv.streams.Load() - base; got < 1 || got > 4 {
		t.Errorf("10 concurrent lookups used %d streams, want 1 (at most a few)", got)
	}

	// A name the upstream does not know: NotFound, then remembered.
	base = srv.streams.Load()
	_, err = snap.Types.FindMessageByURL("type.googleapis.com/test.library.v1.Nope")
	if !errors.Is(err, protoregistry.NotFound) {
		t.Fatalf("unknown type: %v, want protoregistry.NotFound", err)
	}
	if want := `reflection: upstream "library": message type "test.library.v1.Nope": fetch by symbol: descriptor not available: Message not found: test.library.v1.Nope`; err.Error() != want {
		t.Errorf("message = %q", err)
	}
	for range 5 {
		if _, err := snap.Types.FindMessageByName(libraryPkg + ".Nope"); !errors.Is(err, protoregistry.NotFound) {
			t.Errorf("cached miss: %v", err)
		}
	}
	if got := srv.streams.Load() - base; got != 1 {
		t.Errorf("unknown type asked %d times, want 1 (negative cache)", got)
	}
	clock.advance(2 * time.Minute)
	_, _ = snap.Types.FindMessageByName(libraryPkg + ".Nope")
	if got := srv.streams.Load() - base; got != 2 {
		t.Errorf("after the negative TTL: %d streams, want 2", got)
	}
	// Invalid names never reach the upstream.
	if _, err := snap.Types.FindMessageByName("not a name"); !errors.Is(err, protoregistry.NotFound) {
		t.Errorf("invalid name: %v", err)
	}
	if got := srv.streams.Load() - base; got != 2 {
		t.Errorf("invalid name asked the upstream")
	}
}

func TestTypeResolverExtensions(t *testing.T) {
	snap, _ := readySnapshot(t, reflection.Options{}, serverConfig{})
	xt, err := snap.Types.FindExtensionByName("google.api.http")
	if err != nil || xt != annotations.E_Http {
		t.Errorf("google.api.http = %v, %v; want the linked annotations.E_Http", xt, err)
	}
	xt, err = snap.Types.FindExtensionByNumber("google.protobuf.MethodOptions", 72295728)
	if err != nil || xt != annotations.E_Http {
		t.Errorf("MethodOptions/72295728 = %v, %v", xt, err)
	}
	xt, err = snap.Types.FindExtensionByNumber("google.protobuf.MethodOptions", scopeOptionNum)
	if err != nil || xt.TypeDescriptor().FullName() != libraryPkg+".scope" {
		t.Fatalf("upstream extension = %v, %v", xt, err)
	}
	// An options message marshaled with the custom option decodes with it.
	opts := snap.Method(librarySvc + ".GetBook").Options()
	b, err := proto.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	decoded := opts.ProtoReflect().Type().New().Interface()
	if err := (proto.UnmarshalOptions{Resolver: snap.Types}).Unmarshal(b, decoded); err != nil {
		t.Fatal(err)
	}
	if !proto.HasExtension(decoded, xt) || len(decoded.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("custom option not decoded via the resolver")
	}
	if _, err := snap.Types.FindExtensionByName("test.nope"); !errors.Is(err, protoregistry.NotFound) {
		t.Errorf("unknown extension: %v", err)
	}
}
