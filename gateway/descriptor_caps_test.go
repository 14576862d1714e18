package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A wide backend: a real gRPC server whose reflection publishes
// wide.v1.Wide with as many methods (M0, M1 …) and as many extra
// dependency files as the test sets, switchable while it runs. M0 answers
// the empty message.

// wideFiles builds the descriptor set: methods methods, deps dependency
// files.
func wideFiles(t *testing.T, methods, deps int) *protoregistry.Files {
	t.Helper()
	var files protoregistry.Files
	main := &descriptorpb.FileDescriptorProto{
		Name: proto.String("wide/v1/wide.proto"), Package: proto.String("wide.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
	}
	for i := 0; i < deps; i++ {
		dep := &descriptorpb.FileDescriptorProto{Name: proto.String(fmt.Sprintf("wide/v1/dep%d.proto", i)),
			Package: proto.String(fmt.Sprintf("wide.dep%d", i)), Syntax: proto.String("proto3")}
		fd, err := protodesc.NewFile(dep, &files)
		if err != nil {
			t.Fatal(err)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
		main.Dependency = append(main.Dependency, dep.GetName())
	}
	sd := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Wide")}
	for i := 0; i < methods; i++ {
		sd.Method = append(sd.Method, &descriptorpb.MethodDescriptorProto{Name: proto.String(fmt.Sprintf("M%d", i)),
			InputType: proto.String(".wide.v1.M"), OutputType: proto.String(".wide.v1.M")})
	}
	main.Service = []*descriptorpb.ServiceDescriptorProto{sd}
	fd, err := protodesc.NewFile(main, &files)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	return &files
}

// switchableFiles is a reflection DescriptorResolver serving whichever
// set was stored last.
type switchableFiles struct {
	cur atomic.Pointer[protoregistry.Files]
}

func (s *switchableFiles) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	return s.cur.Load().FindFileByPath(p)
}

func (s *switchableFiles) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	return s.cur.Load().FindDescriptorByName(n)
}

// wideServices is the reflection service list: wide.v1.Wide only.
type wideServices struct{}

func (wideServices) GetServiceInfo() map[string]grpc.ServiceInfo {
	return map[string]grpc.ServiceInfo{"wide.v1.Wide": {}}
}

func startWideBackend(t *testing.T, files *protoregistry.Files) (string, *switchableFiles) {
	t.Helper()
	sw := &switchableFiles{}
	sw.cur.Store(files)
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "wide.v1.Wide",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "M0",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in rawFrame
				if err := dec(&in); err != nil {
					return nil, err
				}
				return &rawFrame{}, nil
			},
		}},
	}, struct{}{})
	reflectionRegister(srv, reflection.NewServerV1(reflection.ServerOptions{Services: wideServices{}, DescriptorResolver: sw}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), sw
}

// TestDescriptorCapsKeepLastGood: A backend that grows its
// descriptor set past reflection.max_files, max_bytes, max_methods or
// max_routes has the new set refused: the last good routes stay served,
// and the refusal names the limit in /admin/descriptors (or the route
// build error in /admin/routes) and in the failure metrics.
func TestDescriptorCapsKeepLastGood(t *testing.T) {
	for _, tc := range []struct {
		limit         string
		methods, deps int
		want          string
	}{
		{"max_methods: 100", 400, 0, "the descriptor set has 400 methods, more than 100 (reflection.max_methods); keeping the last good set"},
		{"max_files: 5", 10, 20, "the descriptor set has more than 5 files (reflection.max_files); keeping the last good set"},
		{"max_bytes: 4000", 400, 0, "the reflection answers hold more than 4000 bytes (reflection.max_bytes); keeping the last good set"},
		{"max_routes: 100", 400, 0, "400 routes exceed the limit of 100 (reflection.max_routes)"},
	} {
		t.Run(strings.Fields(tc.limit)[0], func(t *testing.T) {
			addr, sw := startWideBackend(t, wideFiles(t, 10, 0))
			h := startGateway(t, fmt.Sprintf(`
reflection: {%s}
upstreams:
  - name: wide
    static: [%q]
`, tc.limit, addr))
			h.do(t, "POST", "/wide.v1.Wide/M0", `{}`).expect(t, 200)
			before := scrapeMetrics(t, h).value("refract_descriptor_refresh_failures_total", "upstream=wide")

			sw.cur.Store(wideFiles(t, tc.methods, tc.deps))
			code, body := post(t, h.admin+"/admin/descriptors/wide")
			routeCap := strings.HasPrefix(tc.limit, "max_routes")
			if routeCap {
				// The set is fetched; the routes built from it are refused.
				if code != 200 {
					t.Fatalf("refresh: %d %s", code, body)
				}
				deadline := time.Now().Add(5 * time.Second)
				for {
					_, rb := get(t, h.admin+"/admin/routes")
					var rr struct {
						BuildError string `json:"build_error"`
					}
					_ = json.Unmarshal([]byte(rb), &rr)
					if strings.Contains(rr.BuildError, tc.want) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("/admin/routes build_error %q, want %q", rr.BuildError, tc.want)
					}
					time.Sleep(20 * time.Millisecond)
				}
			} else {
				if code != 502 || !strings.Contains(body, tc.want) || !strings.Contains(body, `"code":8`) {
					t.Fatalf("refresh: %d %s; want 502 RESOURCE_EXHAUSTED naming %q", code, body, tc.want)
				}
				_, desc := get(t, h.admin+"/admin/descriptors")
				if !strings.Contains(desc, tc.want) {
					t.Fatalf("/admin/descriptors does not show the refusal: %s", desc)
				}
				if after := scrapeMetrics(t, h).value("refract_descriptor_refresh_failures_total", "upstream=wide"); after <= before {
					t.Fatalf("refract_descriptor_refresh_failures_total %v → %v", before, after)
				}
			}
			// The last good routes are served; the new methods are not.
			h.do(t, "POST", "/wide.v1.Wide/M0", `{}`).expect(t, 200)
			h.expectNoRoute(t, "POST", "/wide.v1.Wide/M300", `{}`)
			if n := h.gw.RouteCounts()["wide"]; n != 10 {
				t.Fatalf("routes = %d, want the last good 10", n)
			}
		})
	}
}

// post sends an admin POST, with the header that shows it is not a
// cross-site form.
func post(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Refract-Admin", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRouteSeriesCapped: Past limits.max_route_series
// routes, requests count under route="other", so a backend publishing
// thousands of methods cannot grow /metrics without bound.
func TestRouteSeriesCapped(t *testing.T) {
	addr, _ := startWideBackend(t, wideFiles(t, 40, 0))
	h := startGateway(t, fmt.Sprintf(`
limits: {max_route_series: 5}
upstreams:
  - name: wide
    static: [%q]
`, addr))
	for i := 0; i < 40; i++ {
		h.do(t, "POST", fmt.Sprintf("/wide.v1.Wide/M%d", i), `{}`)
	}
	fam := scrapeMetrics(t, h)["refract_http_requests_total"]
	routes := map[string]float64{}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				routes[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	delete(routes, "unmatched")
	if len(routes) != 6 || routes["other"] != 35 {
		t.Fatalf("route series %v; want 5 routes of their own and 35 requests under other", routes)
	}
	if n := len(scrapeMetrics(t, h)["refract_http_request_duration_seconds"].GetMetric()); n > 5+1+10 {
		t.Fatalf("%d duration series", n)
	}
}
