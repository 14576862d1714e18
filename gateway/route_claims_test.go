package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/gateway"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// startClaimBackend starts a hostile backend with reflection publishing
//
//	package claim.v1;
//	message R { string name = 1; string id = 2; }
//	service Claim { rpc M0(R) returns (R) { option (google.api.http) = {get: routes[0]}; } … }
//
// one method per route ("GET /v1/shelves", a GET template each). Every
// method answers R{name: "claimed by <service>"}.
func startClaimBackend(t *testing.T, service string, routes ...string) string {
	t.Helper()
	str := func(s string) *string { return &s }
	sType := descriptorpb.FieldDescriptorProto_TYPE_STRING
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	svc := &descriptorpb.ServiceDescriptorProto{Name: str("Claim")}
	for i, r := range routes {
		mo := &descriptorpb.MethodOptions{}
		proto.SetExtension(mo, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: r}})
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name: str(fmt.Sprintf("M%d", i)), InputType: str(".claim.v1.R"), OutputType: str(".claim.v1.R"), Options: mo,
		})
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: str("claim/v1/claim.proto"), Package: str("claim.v1"), Syntax: str("proto3"),
		Dependency: []string{"google/api/annotations.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: str("R"), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: str("name"), JsonName: str("name"), Number: proto.Int32(1), Label: &opt, Type: &sType},
			{Name: str("id"), JsonName: str("id"), Number: proto.Int32(2), Label: &opt, Type: &sType},
		}}},
		Service: []*descriptorpb.ServiceDescriptorProto{svc},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	var files protoregistry.Files
	for _, f := range []protoreflect.FileDescriptor{descriptorpb.File_google_protobuf_descriptor_proto,
		annotations.File_google_api_http_proto, annotations.File_google_api_annotations_proto, fd} {
		if err := files.RegisterFile(f); err != nil {
			t.Fatal(err)
		}
	}
	answer := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "claimed by "+service)
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	desc := grpc.ServiceDesc{ServiceName: "claim.v1.Claim", HandlerType: (*any)(nil)}
	for i := range routes {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: fmt.Sprintf("M%d", i),
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in rawFrame
				if err := dec(&in); err != nil {
					return nil, err
				}
				return &rawFrame{b: answer}, nil
			},
		})
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

// routesDoc is /admin/routes.
type routesDoc struct {
	Routes   []gateway.RouteInfo    `json:"routes"`
	Refused  []gateway.RefusedRoute `json:"refused"`
	Unrouted map[string][]string    `json:"unrouted"`
	Hidden   map[string][]any       `json:"hidden"`
}

func adminRoutes(t *testing.T, h *harness) routesDoc {
	t.Helper()
	resp, err := http.Get(h.admin + "/admin/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d routesDoc
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d routesDoc) served(upstream, method, path string) bool {
	for _, r := range d.Routes {
		if r.Upstream == upstream && r.HTTPMethod == method && r.Path == path {
			return true
		}
	}
	return false
}

var claimKey = []string{"X-Api-Key", "lib-key"}

// libraryWithKey is library behind an API key, and more.
func libraryWithKey(libAddr, more string) string {
	return fmt.Sprintf(`
api_keys: {header: X-Api-Key}
consumers:
  - name: app
    keys: [{value: lib-key}]
upstreams:
  - name: library
    static: [%q]
    policies: {auth: [api_key]}
%s`, libAddr, more)
}

// TestOptionalUpstreamCannotTakeRoutes: an optional upstream publishing a
// template more specific than library's, a catch-all and an identical
// route gets those three refused (named in /admin/routes with both sides,
// counted in refract_routes_refused), keeps its own route, and library's
// routes are served behind library's policy with /readyz 200.
func TestOptionalUpstreamCannotTakeRoutes(t *testing.T) {
	lib := startLibrary(t)
	evil := startClaimBackend(t, "evil", "/v1/shelves/1/books/{id}", "/{name=**}", "/v1/shelves", "/evil/v1/{id}")
	h := startGateway(t, libraryWithKey(lib.Addr, fmt.Sprintf(`
  - name: evil
    static: [%q]
    optional: true
`, evil)))
	eventually(t, 10*time.Second, "evil's own route", func() bool { return h.do(t, "GET", "/evil/v1/x", "").status == 200 })

	jsonEq(t, h.do(t, "GET", "/evil/v1/x", "").body, `{"name":"claimed by evil","id":""}`)
	// Library's book, behind library's API key: not the hostile backend's.
	h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 401)
	if r := h.do(t, "GET", "/v1/shelves/1/books/1", "", claimKey...).expect(t, 200); field(t, r.body, "name") != "shelves/1/books/1" {
		t.Fatalf("GET /v1/shelves/1/books/1: %s", r.body)
	}
	if r := h.do(t, "GET", "/v1/shelves", "", claimKey...).expect(t, 200); strings.Contains(string(r.body), "claimed") {
		t.Fatalf("GET /v1/shelves served by evil: %s", r.body)
	}
	h.expectNoRoute(t, "GET", "/anything/else", "")
	resp, err := http.Get(h.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz %d", resp.StatusCode)
	}

	d := adminRoutes(t, h)
	want := map[string]string{
		"/v1/shelves/1/books/{id}": `GET /v1/shelves/1/books/{id} of upstream "evil" can match paths of GET /v1/{name=shelves/*/books/*} of upstream "library"`,
		"/{name=**}":               `GET /{name=**} of upstream "evil" can match paths of GET /v1/shelves of upstream "library"`,
		"/v1/shelves":              `GET /v1/shelves of upstream "evil" has the same method and path shape as GET /v1/shelves of upstream "library"`,
	}
	if len(d.Refused) != len(want) {
		t.Fatalf("refused %+v, want 3", d.Refused)
	}
	for _, r := range d.Refused {
		if r.Upstream != "evil" || r.HTTPMethod != "GET" || !strings.HasPrefix(r.Reason, want[r.Path]) || !strings.HasPrefix(r.GRPCMethod, "claim.v1.Claim.M") {
			t.Errorf("refused %+v, want reason %q", r, want[r.Path])
		}
	}
	if !d.served("evil", "GET", "/evil/v1/{id}") || !d.served("library", "GET", "/v1/shelves") || d.served("evil", "GET", "/v1/shelves") {
		t.Errorf("routes %+v", d.Routes)
	}
	m := scrapeMetrics(t, h)
	if s := m.series("refract_routes_refused", "upstream=evil"); s == nil || s.GetGauge().GetValue() != 3 {
		t.Errorf("refract_routes_refused{upstream=evil} = %v, want 3", s)
	}
	if s := m.series("refract_routes", "upstream=evil"); s == nil || s.GetGauge().GetValue() != 1 {
		t.Errorf("refract_routes{upstream=evil} = %v, want 1", s)
	}
}

// TestMayOverlapGrantsOverlap: with library granting may_overlap to a
// second upstream, its more specific template is served (the most
// specific wins) next to library's; an identical route is still refused.
func TestMayOverlapGrantsOverlap(t *testing.T) {
	lib := startLibrary(t)
	friend := startClaimBackend(t, "friend", "/v1/shelves/1/books/{id}", "/v1/shelves")
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    may_overlap: [friend]
  - name: friend
    static: [%q]
`, lib.Addr, friend))
	jsonEq(t, h.do(t, "GET", "/v1/shelves/1/books/7", "").expect(t, 200).body, `{"name":"claimed by friend","id":""}`)
	// Library's answer (no such book), not friend's.
	if r := h.do(t, "GET", "/v1/shelves/2/books/1", "").expect(t, 404); !strings.Contains(string(r.body), `library.v1.Book \"shelves/2/books/1\" not found`) {
		t.Fatalf("GET /v1/shelves/2/books/1: %s", r.body)
	}
	if r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200); strings.Contains(string(r.body), "claimed") {
		t.Fatalf("GET /v1/shelves served by friend: %s", r.body)
	}
	d := adminRoutes(t, h)
	if len(d.Refused) != 1 || d.Refused[0].Path != "/v1/shelves" || d.Refused[0].Upstream != "friend" {
		t.Fatalf("refused %+v, want friend's GET /v1/shelves only", d.Refused)
	}
}

// TestBadRuleCostsOneMethod: a config rule giving a method another
// method's route, and one that does not compile, cost those methods
// (listed in unrouted, with why), not the upstream's other routes.
func TestBadRuleCostsOneMethod(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q]
    rules:
      - selector: library.v1.LibraryService.GetShelf
        get: /v1/shelves
      - selector: library.v1.LibraryService.CreateShelf
        post: /v1/shelves
        body: no_such_field
`, lib.Addr))
	h.do(t, "GET", "/v1/shelves", "").expect(t, 200)
	if r := h.do(t, "GET", "/v1/shelves/1/books/1", "").expect(t, 200); field(t, r.body, "name") != "shelves/1/books/1" {
		t.Fatalf("GET /v1/shelves/1/books/1: %s", r.body)
	}
	d := adminRoutes(t, h)
	un := strings.Join(d.Unrouted["library"], "\n")
	for _, want := range []string{
		"library.v1.LibraryService.GetShelf: GET /v1/shelves has the same method and path shape as library.v1.LibraryService.ListShelves's GET /v1/shelves; left out",
		"no_such_field",
	} {
		if !strings.Contains(un, want) {
			t.Errorf("unrouted %q, want it to mention %q", un, want)
		}
	}
	if len(d.Refused) != 0 {
		t.Errorf("refused %+v", d.Refused)
	}
}

// TestAutoExposedConfinedToPrefix: with auto_expose.path_prefix, an
// auto-exposed service publishing library's own route is served under
// its prefix, and library's route stays library's.
func TestAutoExposedConfinedToPrefix(t *testing.T) {
	agent := consultest.Start(t)
	lib := startLibrary(t)
	evil := startClaimBackend(t, "evil", "/v1/shelves", "/{name=**}")
	h := startGateway(t, fmt.Sprintf(`
consul:
  address: %q
  wait_time: 5s
  auto_expose:
    tag: refract
    path_prefix: /svc/{service}
upstreams:
  - name: library
    static: [%q]
`, agent.Addr, lib.Addr))
	agent.Register(consultest.Instance{ID: "evil", Service: "evil", Addr: evil, Tags: []string{"refract"}})
	eventually(t, 10*time.Second, "evil under its prefix", func() bool { return h.do(t, "GET", "/svc/evil/v1/shelves", "").status == 200 })
	jsonEq(t, h.do(t, "GET", "/svc/evil/v1/shelves", "").body, `{"name":"claimed by evil","id":""}`)
	jsonEq(t, h.do(t, "GET", "/svc/evil/x/y", "").body, `{"name":"claimed by evil","id":""}`)
	if r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200); strings.Contains(string(r.body), "claimed") {
		t.Fatalf("GET /v1/shelves served by evil: %s", r.body)
	}
	h.expectNoRoute(t, "GET", "/x/y", "")
	if d := adminRoutes(t, h); len(d.Refused) != 0 {
		t.Fatalf("refused %+v", d.Refused)
	}
}

// TestAutoExposedCannotBlockConfigured: without a prefix, an auto-exposed
// service publishing library's routes (identical and catch-all) gets
// them refused and library keeps serving.
func TestAutoExposedCannotBlockConfigured(t *testing.T) {
	agent := consultest.Start(t)
	lib := startLibrary(t)
	evil := startClaimBackend(t, "evil", "/v1/shelves", "/{name=**}", "/evil/{id}")
	h := startGateway(t, fmt.Sprintf(`
consul:
  address: %q
  wait_time: 5s
  auto_expose: {tag: refract}
upstreams:
  - name: library
    static: [%q]
`, agent.Addr, lib.Addr))
	agent.Register(consultest.Instance{ID: "evil", Service: "evil", Addr: evil, Tags: []string{"refract"}})
	eventually(t, 10*time.Second, "evil's own route", func() bool { return h.do(t, "GET", "/evil/x", "").status == 200 })
	if r := h.do(t, "GET", "/v1/shelves", "").expect(t, 200); strings.Contains(string(r.body), "claimed") {
		t.Fatalf("GET /v1/shelves served by evil: %s", r.body)
	}
	h.expectNoRoute(t, "GET", "/x/y", "")
	if d := adminRoutes(t, h); len(d.Refused) != 2 {
		t.Fatalf("refused %+v, want 2", d.Refused)
	}
}
