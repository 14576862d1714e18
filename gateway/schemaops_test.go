package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/library"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/internal/testkit"
	"github.com/refract-gateway/refract/reflection"
	"google.golang.org/grpc"
	grpcreflection "google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// libraryBackend is the example LibraryService as a deploy serves it:
// its handlers (without the methods in drop) and, when describe is set,
// reflection describing fdp (nil: the compiled library.proto).
type libraryBackend struct {
	fdp      *descriptorpb.FileDescriptorProto
	drop     []string
	describe bool
}

// start serves b on addr ("127.0.0.1:0" for any port; a just-freed port
// is retried) and returns the address bound.
func (b libraryBackend) start(t *testing.T, addr string) (string, func()) {
	t.Helper()
	var lis net.Listener
	var err error
	for range 100 {
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	desc := librarypb.LibraryService_ServiceDesc
	desc.Methods = slices.DeleteFunc(slices.Clone(desc.Methods), func(m grpc.MethodDesc) bool { return slices.Contains(b.drop, m.MethodName) })
	srv.RegisterService(&desc, library.NewService())
	if b.describe {
		files := libraryFiles(t, b.fdp)
		reflectionv1.RegisterServerReflectionServer(srv, grpcreflection.NewServerV1(grpcreflection.ServerOptions{Services: srv, DescriptorResolver: files}))
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), srv.Stop
}

// libraryFiles is a registry of fdp (nil: the compiled library.proto) and
// every file it imports.
func libraryFiles(t *testing.T, fdp *descriptorpb.FileDescriptorProto) *protoregistry.Files {
	t.Helper()
	var fd protoreflect.FileDescriptor = librarypb.File_library_v1_library_proto
	if fdp != nil {
		var err error
		if fd, err = protodesc.NewFile(fdp, protoregistry.GlobalFiles); err != nil {
			t.Fatal(err)
		}
	}
	files := new(protoregistry.Files)
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return
		}
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	add(fd)
	return files
}

// libraryDescriptorSet writes library.proto with its imports as protoc
// --include_imports would, and returns the file's path.
func libraryDescriptorSet(t *testing.T) string {
	t.Helper()
	var set descriptorpb.FileDescriptorSet
	libraryFiles(t, nil).RangeFiles(func(fd protoreflect.FileDescriptor) bool {
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

// breakingLibrary is library.proto after a deploy that removes DeleteShelf
// and turns Shelf.theme into an int64.
func breakingLibrary() *descriptorpb.FileDescriptorProto {
	fdp := protodesc.ToFileDescriptorProto(librarypb.File_library_v1_library_proto)
	svc := fdp.Service[0]
	svc.Method = slices.DeleteFunc(svc.Method, func(m *descriptorpb.MethodDescriptorProto) bool { return m.GetName() == "DeleteShelf" })
	for _, m := range fdp.MessageType {
		if m.GetName() == "Shelf" {
			for _, f := range m.Field {
				if f.GetName() == "theme" {
					f.Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
				}
			}
		}
	}
	return fdp
}

func adminJSON(t *testing.T, url string, into any) {
	t.Helper()
	code, body := get(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

func TestBackendWithoutReflectionServedFromDescriptorSet(t *testing.T) {
	addr, _ := libraryBackend{}.start(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(addr, fmt.Sprintf(`    descriptors:
      sources: [reflection, files]
      files: [%q]
`, libraryDescriptorSet(t))))
	r := h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	jsonEq(t, r.body, `{"name":"shelves/1","theme":"Fiction","bookCount":"2","createTime":"2024-01-01T00:00:00Z"}`)
	if st := h.gw.Cache().Stats()[0]; st.Source != reflection.SourceFiles || st.State != reflection.StateReady {
		t.Fatalf("stats %+v", st)
	}
}

// With files as the only source, the endpoints of an upstream are not
// reflected one by one (they could not be): the files' set serves all.
func TestFilesOnlyUpstreamIsNotReflected(t *testing.T) {
	a, _ := libraryBackend{}.start(t, "127.0.0.1:0")
	b, _ := libraryBackend{}.start(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - name: library
    static: [%q, %q]
    descriptors: {files: [%q]}
`, a, b, libraryDescriptorSet(t)))
	for range 4 {
		h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	}
	if st := h.gw.Cache().Stats(); len(st) != 1 || st[0].Source != reflection.SourceFiles || st[0].Failures != 0 {
		t.Fatalf("cache entries %+v, want the upstream's alone, from files", st)
	}
}

func TestRestartWithReflectionDownServesPersistedSnapshot(t *testing.T) {
	dir := t.TempDir()
	addr, stop := libraryBackend{describe: true}.start(t, "127.0.0.1:0")
	cfg := libraryConfig(addr, "") + fmt.Sprintf("reflection: {snapshot_dir: %q}\n", dir)
	first := startGateway(t, cfg)
	first.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	hash := first.gw.Cache().Stats()[0].Hash
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	// The backend comes back with reflection switched off.
	stop()
	libraryBackend{}.start(t, addr)
	second := startGateway(t, cfg)
	second.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	st := second.gw.Cache().Stats()[0]
	if st.State != reflection.StateStale || st.Hash != hash {
		t.Fatalf("stats %+v, want stale with hash %s", st, hash)
	}
	if code, body := get(t, second.admin+"/readyz"); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
}

func TestBreakingDeployHeldUntilApproved(t *testing.T) {
	addr, stop := libraryBackend{describe: true}.start(t, "127.0.0.1:0")
	cfg := libraryConfig(addr, `    schema_changes: {breaking: hold}
`) + fmt.Sprintf("reflection: {refresh_interval: 1h, snapshot_dir: %q}\n", t.TempDir())
	h := startGateway(t, cfg)
	before := h.gw.Cache().Stats()[0].Hash
	h.do(t, "DELETE", "/v1/shelves/2", "").expect(t, 200)

	stop()
	libraryBackend{fdp: breakingLibrary(), drop: []string{"DeleteShelf"}, describe: true}.start(t, addr)
	eventually(t, 30*time.Second, "the breaking schema to be held", func() bool {
		h.gw.Cache().RequestRefresh("library", "test")
		return h.gw.Cache().Stats()[0].Held != nil
	})
	if h.gw.Cache().Snapshot("library").Hash != before {
		t.Fatal("the routes moved to the breaking schema")
	}
	// The removed method keeps its route: the backend answers for it.
	r := h.do(t, "DELETE", "/v1/shelves/1", "").expect(t, 501)
	if !strings.Contains(string(r.body), "DeleteShelf") {
		t.Fatalf("body %s", r.body)
	}
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200) // still there in both

	// A restart holds it too: the serving schema was persisted.
	restarted := startGateway(t, cfg)
	eventually(t, 30*time.Second, "the restarted gateway to hold the schema", func() bool {
		return restarted.gw.Cache().Stats()[0].Held != nil
	})
	if restarted.gw.Cache().Snapshot("library").Hash != before {
		t.Fatal("the restarted gateway adopted the breaking schema")
	}
	restarted.do(t, "DELETE", "/v1/shelves/1", "").expect(t, 501)

	var hist struct {
		Versions []reflection.Version `json:"versions"`
		Held     *reflection.Held     `json:"held"`
	}
	adminJSON(t, h.admin+"/admin/descriptors/library/history", &hist)
	if len(hist.Versions) != 2 || hist.Versions[0].State != "held" || !hist.Versions[0].Breaking || hist.Held == nil ||
		hist.Versions[1].Hash != before || hist.Versions[1].State != "serving" {
		t.Fatalf("history %+v", hist)
	}
	held := hist.Versions[0].Hash
	var diff reflection.DiffResult
	adminJSON(t, h.admin+"/admin/descriptors/library/diff?from="+before[:12]+"&to="+held, &diff)
	var lines []string
	for _, c := range diff.Changes {
		lines = append(lines, c.String())
	}
	t.Logf("diff %s → %s:\n%s", diff.From[:12], diff.To[:12], strings.Join(lines, "\n"))
	want := []string{
		"breaking: removed http_rule library.v1.LibraryService.DeleteShelf: DELETE /v1/{name=shelves/*} removed",
		"breaking: removed method library.v1.LibraryService.DeleteShelf: method removed ((library.v1.DeleteShelfRequest) returns (google.protobuf.Empty))",
		"breaking: changed field library.v1.Shelf.theme: type string → int64",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// Approval of another hash is refused; of the held one, adopted.
	resp := adminPostBody(t, h.admin+"/admin/descriptors/library/approve", `{"hash":"`+before+`"}`)
	if resp.status != 409 || !strings.Contains(string(resp.body), "the held schema is "+held) {
		t.Fatalf("approving the serving hash: %d %s", resp.status, resp.body)
	}
	resp = adminPostBody(t, h.admin+"/admin/descriptors/library/approve", `{"hash":"`+held+`"}`)
	if resp.status != 200 || field(t, resp.body, "adopted") != held {
		t.Fatalf("approve: %d %s", resp.status, resp.body)
	}
	// GetShelf keeps the path: DELETE is no longer among its methods.
	eventually(t, 10*time.Second, "the route of the removed method to go", func() bool {
		return h.do(t, "DELETE", "/v1/shelves/1", "").status == 405
	})
	// Other labels (the config version) may sit between these two.
	if code, body := get(t, h.admin+"/metrics"); code != 200 || !regexp.MustCompile(
		`(?m)^refract_schema_changes_total\{breaking="true",[^}]*upstream="library"\} 1$`).MatchString(body) {
		t.Fatalf("metrics %d: no breaking schema change counted:\n%s", code, grepLines(body, "refract_schema"))
	}
}

func TestNonBreakingAdditionAdoptedAtOnce(t *testing.T) {
	addr, stop := libraryBackend{describe: true, drop: []string{"LockBook"}, fdp: withoutMethod("LockBook")}.start(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(addr, `    schema_changes: {breaking: hold}
`)+fmt.Sprintf("reflection: {refresh_interval: 1h, snapshot_dir: %q}\n", t.TempDir()))
	h.do(t, "LOCK", "/v1/shelves/1/books/1", `{}`).expect(t, 405)
	stop()
	libraryBackend{describe: true}.start(t, addr)
	eventually(t, 30*time.Second, "the added method's route", func() bool {
		h.gw.Cache().RequestRefresh("library", "test")
		return h.do(t, "LOCK", "/v1/shelves/1/books/1", `{}`).status == 200
	})
	if st := h.gw.Cache().Stats()[0]; st.Held != nil || st.SchemaChanges != [2]uint64{1, 0} {
		t.Fatalf("stats %+v", st)
	}
}

// withoutMethod is library.proto without one method: the deploy before
// the one that added it.
func withoutMethod(name string) *descriptorpb.FileDescriptorProto {
	fdp := protodesc.ToFileDescriptorProto(librarypb.File_library_v1_library_proto)
	fdp.Service[0].Method = slices.DeleteFunc(fdp.Service[0].Method, func(m *descriptorpb.MethodDescriptorProto) bool { return m.GetName() == name })
	return fdp
}

func TestUnreachableUpstreamSaysWhy(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there: connection refused
	h := serveGateway(t, libraryConfig(addr, "    path_prefix: /library\n    optional: true\n"))
	want := `upstream "library" has no descriptors yet: `
	eventually(t, 10*time.Second, "the dial error", func() bool {
		r := h.do(t, "GET", "/library/v1/shelves", "")
		return r.status == 503 && strings.Contains(string(r.body), "connection refused")
	})
	r := h.do(t, "GET", "/library/v1/shelves", "").expect(t, 503)
	if msg, _ := field(t, r.body, "message").(string); !strings.HasPrefix(msg, want) || !strings.Contains(msg, addr) {
		t.Fatalf("message %q", msg)
	}
	h.expectNoRoute(t, "GET", "/elsewhere", "") // outside the prefix: nobody's path
}

func TestReadyzNamesTheDialError(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	h := serveGateway(t, libraryConfig(addr, ""))
	eventually(t, 10*time.Second, "readyz to name the dial error", func() bool {
		_, body := get(t, h.admin+"/readyz")
		return strings.Contains(body, `upstream \"library\" has no descriptors yet: `) && strings.Contains(body, "connection refused")
	})
}

func TestDownloadedDescriptorSetWorksWithGrpcurl(t *testing.T) {
	grpcurl := os.Getenv("REFRACT_GRPCURL")
	if grpcurl == "" {
		grpcurl, _ = exec.LookPath("grpcurl")
	}
	if grpcurl == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("grpcurl is needed: run .ci/grpcurl.sh and set REFRACT_GRPCURL")
		}
		t.Skip("no grpcurl: run .ci/grpcurl.sh and set REFRACT_GRPCURL to its output")
	}
	addr, _ := libraryBackend{describe: true}.start(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(addr, ""))
	hash := h.gw.Cache().Stats()[0].Hash
	resp, err := http.Get(h.admin + "/admin/descriptors/library/versions/" + hash + ".binpb")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Refract-Schema-Hash") != hash {
		t.Fatalf("download: %d %s", resp.StatusCode, data)
	}
	set := filepath.Join(t.TempDir(), "library.binpb")
	if err := os.WriteFile(set, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A backend without reflection: grpcurl has only the downloaded set.
	bare, _ := libraryBackend{}.start(t, "127.0.0.1:0")
	out, err := exec.Command(grpcurl, "-plaintext", "-protoset", set, "-d", `{"name":"shelves/1"}`,
		bare, "library.v1.LibraryService/GetShelf").CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl: %v: %s", err, out)
	}
	var shelf map[string]any
	if err := json.Unmarshal(out, &shelf); err != nil || shelf["theme"] != "Fiction" {
		t.Fatalf("grpcurl answered %s", out)
	}
	out, err = exec.Command(grpcurl, "-protoset", set, "describe", "library.v1.Shelf").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "string theme = 2;") {
		t.Fatalf("grpcurl describe: %v: %s", err, out)
	}
}

// adminPostBody sends a state-changing admin request with a JSON body.
func adminPostBody(t *testing.T, url, body string) response {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Refract-Admin", "1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// The config examples of docs/schemas.md load.
func TestSchemasDocExamplesLoad(t *testing.T) {
	t.Setenv("LIBRARY_REFLECTION_TOKEN", "Bearer from-env")
	data, err := os.ReadFile("../docs/schemas.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) != 4 {
		t.Fatalf("found %d yaml blocks, want 4", len(blocks))
	}
	for i, b := range blocks {
		y := b[:strings.Index(b, "```")]
		if _, err := config.Parse([]byte(y)); err != nil {
			t.Errorf("yaml block %d does not load: %v\n%s", i+1, err, y)
		}
	}
}

// The schema endpoints refuse what they cannot answer with a Status that
// says what to send instead.
func TestSchemaEndpointsRefusals(t *testing.T) {
	addr, _ := libraryBackend{describe: true}.start(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(addr, ""))
	hash := h.gw.Cache().Stats()[0].Hash
	for _, c := range []struct {
		method, path string
		status       int
		message      string
	}{
		{"GET", "/admin/descriptors/nope/history", 404, `reflection: upstream "nope": history: unknown upstream`},
		{"GET", "/admin/descriptors/library/diff?to=abc", 400, "name a version by its hash or at least its first 8 hex digits"},
		{"GET", "/admin/descriptors/library/diff", 404, "is the oldest version kept; name one with from="},
		{"GET", "/admin/descriptors/library/versions/" + hash, 404, "versions are downloaded as /admin/descriptors/library/versions/<hash>.binpb"},
		{"GET", "/admin/descriptors/library/versions/00000000.binpb", 404, `"00000000" is not among the 1 versions kept`},
		{"POST", "/admin/descriptors/library/approve", 409, "approve: no such schema held for approval"},
	} {
		var r response
		if c.method == "POST" {
			r = adminPostBody(t, h.admin+c.path, "")
		} else {
			code, body := get(t, h.admin+c.path)
			r = response{status: code, body: []byte(body)}
		}
		if msg, _ := field(t, r.body, "message").(string); r.status != c.status || !strings.Contains(msg, c.message) {
			t.Errorf("%s %s: %d %s, want %d %q", c.method, c.path, r.status, r.body, c.status, c.message)
		}
	}
	// Without the admin header, an approval is refused before it is read.
	resp, err := http.Post(h.admin+"/admin/descriptors/library/approve", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("approve without X-Refract-Admin: %d", resp.StatusCode)
	}
	var hist struct{ Versions []reflection.Version }
	adminJSON(t, h.admin+"/admin/descriptors/library/history", &hist)
	if len(hist.Versions) != 1 || hist.Versions[0].State != "serving" || hist.Versions[0].Summary != "first version seen" {
		t.Fatalf("history %+v", hist)
	}
}

// A reload that changes an upstream served from descriptor-set files
// rebuilds it from its files: the new upstream's first fetch uses its
// sources, not reflection alone.
func TestReloadKeepsDescriptorSources(t *testing.T) {
	addr, _ := libraryBackend{}.start(t, "127.0.0.1:0")
	set := libraryDescriptorSet(t)
	head := fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\nreload: {ready_timeout: 5s}\n", testkit.FreeAddr(t), testkit.FreeAddr(t))
	cfg := func(timeout string) string {
		return head + fmt.Sprintf("upstreams:\n  - name: library\n    static: [%q]\n    timeout: %s\n    descriptors: {files: [%q]}\n", addr, timeout, set)
	}
	src := &memConfig{}
	src.set(cfg("5s"))
	s, _ := runServer(t, src)
	if err := s.WaitReady(withTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	src.set(cfg("7s"))
	if err := s.Reload(t.Context()); err != nil {
		t.Fatalf("reload of an upstream served from files: %v", err)
	}
	h := &harness{srv: s, gw: s.Gateway(), base: "http://" + s.Addr("public"), admin: "http://" + s.Addr("admin")}
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200) // the previous routes, until the new ones are built
	eventually(t, 10*time.Second, "the rebuilt upstream's descriptors from its files", func() bool {
		st := h.gw.Cache().Stats()
		return len(st) == 1 && st[0].Source == reflection.SourceFiles
	})
	h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
}

// Approving a held schema is an operator's act: a viewer reads the
// history and the diff but is refused the approval; an operator's
// approval adopts the schema and is audited under the token's name.
func TestApproveNeedsAnOperator(t *testing.T) {
	addr, stop := libraryBackend{describe: true}.start(t, "127.0.0.1:0")
	h := startGateway(t, libraryConfig(addr, "    schema_changes: {breaking: hold}\n")+fmt.Sprintf(`reflection: {refresh_interval: 1h, snapshot_dir: %q}
admin_security:
  tokens:
    - {name: vera, role: viewer, value: viewer-secret}
    - {name: olga, role: operator, value: operator-secret}
`, t.TempDir()))
	stop()
	libraryBackend{fdp: breakingLibrary(), drop: []string{"DeleteShelf"}, describe: true}.start(t, addr)
	eventually(t, 30*time.Second, "the breaking schema to be held", func() bool {
		h.gw.Cache().RequestRefresh("library", "test")
		return h.gw.Cache().Stats()[0].Held != nil
	})
	viewer, operator := []string{"Authorization", "Bearer viewer-secret"}, []string{"Authorization", "Bearer operator-secret"}
	if code, _, body := adminDo(t, nil, "GET", h.admin+"/admin/descriptors/library/diff", viewer...); code != 200 || !strings.Contains(body, "DeleteShelf") {
		t.Fatalf("a viewer's diff: %d %s", code, body)
	}
	approve := h.admin + "/admin/descriptors/library/approve"
	if code, _, body := adminDo(t, nil, "POST", approve, append(viewer, "X-Refract-Admin", "1")...); code != 403 {
		t.Fatalf("a viewer's approval: %d %s", code, body)
	}
	if h.gw.Cache().Stats()[0].Held == nil {
		t.Fatal("a viewer's refused approval adopted the schema")
	}
	if code, _, body := adminDo(t, nil, "POST", approve, append(operator, "X-Refract-Admin", "1")...); code != 200 || !strings.Contains(body, `"adopted"`) {
		t.Fatalf("an operator's approval: %d %s", code, body)
	}
	if h.gw.Cache().Stats()[0].Held != nil {
		t.Fatal("the operator's approval did not adopt the schema")
	}
	if code, _, body := adminDo(t, nil, "GET", h.admin+"/admin/audit", operator...); code != 200 ||
		!strings.Contains(body, "/admin/descriptors/library/approve") || !strings.Contains(body, "olga") {
		t.Fatalf("audit: %d %s", code, body)
	}
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
