package gateway_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples/echo/echopb"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// webClientPage runs the bundled client and posts its lines back to the
// test.
const webClientPage = `<!doctype html>
<html><head><title>rpc</title><script src="/client.js"></script></head><body><script>
const report = (text) => fetch('/result', {method: 'POST', body: text});
runRefract(%q, location.origin)
  .then((lines) => report(lines.join('\n')))
  .catch((e) => report('failed: ' + e));
</script></body></html>`

// TestConnectWebClientInBrowser runs Connect's own browser client
// (@connectrpc/connect-web from npm, bundled by .ci/webclient.sh) in
// headless Chromium against refract: Connect binary and JSON and gRPC-Web,
// unary and server streaming, and the route's auth in each protocol.
func TestConnectWebClientInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	bundle := tool(t, "REFRACT_WEBCLIENT", "refract-webclient-bundle.js", ".ci/webclient.sh")
	js, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, rpcConfig(lib.Addr, echo.Addr, ""))

	// The page, the bundle and the API on one origin.
	page := fmt.Sprintf(webClientPage, descriptorSet(t, librarypb.File_library_v1_library_proto, echopb.File_echo_v1_echo_proto))
	mux := http.NewServeMux()
	mux.HandleFunc("/rpc.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("/client.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(js)
	})
	result := make(chan string, 1)
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case result <- string(b):
		default:
		}
	})
	mux.Handle("/", h.gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		fmt.Sprintf("http://%s/rpc.html", ln.Addr()))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The browser runs until the page has reported.
	defer func() { cancel(); _ = cmd.Wait() }()
	var got string
	select {
	case got = <-result:
	case <-time.After(90 * time.Second):
		cancel()
		_ = cmd.Wait()
		t.Fatalf("the page reported nothing within 90s; chromium said:\n%s", stderr.String())
	}
	var want []string
	for _, p := range []string{"connect", "connect-json", "grpc-web"} {
		want = append(want, p+" shelf shelves/1 Fiction", p+" no key Unauthenticated missing credentials", p+" expand hi/0 hi/1 hi/2")
	}
	if got != strings.Join(want, "\n") {
		t.Fatalf("the page received\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// descriptorSet is the base64 FileDescriptorSet of files and their
// dependencies, for a client that builds its schema at run time.
func descriptorSet(t *testing.T, files ...protoreflect.FileDescriptor) string {
	t.Helper()
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range files {
		add(fd)
	}
	b, err := proto.Marshal(&set)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
