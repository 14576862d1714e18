package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/internal/testkit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The fault tests need processes they can kill: a backend that dies with
// SIGKILL has its sockets closed by the kernel, mid-call, as in production,
// which no in-process Stop imitates. The helper processes are this test
// binary started again with helperEnv naming a role (TestMain dispatches on
// it); they talk to the test over stdout, one event a line, and exit when
// their stdin closes. Every process a test starts is stopped when it ends,
// and (on Linux) killed if the test binary dies first.

// helperEnv names the role of a helper process.
const helperEnv = "REFRACT_TEST_HELPER"

// Roles.
const (
	// roleBackend serves the example library API (v1, or v2 with
	// helperSchema=v2; the echo API with helperSchema=echo) on helperAddr
	// with reflection and health. Every answer carries the header metadata
	// x-served-by: helperName. With helperHold=1, a call carrying
	// x-fault-hold metadata prints "held METHOD" and blocks until its
	// context ends, then prints "cancelled ERR". Prints "addr HOST:PORT"
	// once serving; SIGTERM or the end of stdin stop it gracefully.
	roleBackend = "backend"
	// roleIdleClients opens helperConns connections to helperAddr, sends one
	// HTTP/1.1 request on each, reads the answer and leaves the connection
	// idle. Prints "ready N" when all are idle, then "closed N" once the
	// server has closed every one of them; "error ..." on failure.
	roleIdleClients = "idle-clients"
)

// Helper settings, as environment variables.
const (
	helperAddr   = "REFRACT_TEST_ADDR"
	helperName   = "REFRACT_TEST_NAME"
	helperSchema = "REFRACT_TEST_SCHEMA"
	helperHold   = "REFRACT_TEST_HOLD"
	helperConns  = "REFRACT_TEST_CONNS"
)

// runHelper runs a helper role and returns the process's exit code.
func runHelper(role string) int {
	out := &lineWriter{w: os.Stdout}
	var err error
	switch role {
	case roleBackend:
		err = helperBackend(out)
	case roleIdleClients:
		err = helperIdleClients(out)
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		out.printf("error %v", err)
		return 1
	}
	return 0
}

// lineWriter prints whole lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

func helperBackend(out *lineWriter) error {
	name, hold := os.Getenv(helperName), os.Getenv(helperHold) == "1"
	start := examples.StartLibrary
	switch os.Getenv(helperSchema) {
	case "v2":
		start = examples.StartLibraryV2
	case "echo":
		start = examples.StartEcho
	}
	b, err := start(os.Getenv(helperAddr), grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", name))
			md, _ := metadata.FromIncomingContext(ctx)
			if hold && len(md.Get("x-fault-hold")) > 0 {
				out.printf("held %s", info.FullMethod)
				<-ctx.Done()
				out.printf("cancelled %v", ctx.Err())
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return h(ctx, req)
		}))
	if err != nil {
		return err
	}
	out.printf("addr %s", b.Addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stop:
	case <-stdinClosed:
	case <-b.Done():
	}
	b.Stop()
	return b.Err()
}

func helperIdleClients(out *lineWriter) error {
	target := os.Getenv(helperAddr)
	n, err := strconv.Atoi(os.Getenv(helperConns))
	if err != nil {
		return fmt.Errorf("%s: %w", helperConns, err)
	}
	if err := raiseFileLimit(uint64(n) + 256); err != nil {
		return err
	}
	conns := make([]net.Conn, n)
	// A few dialers at once: the listener's backlog is finite, and the
	// gateway answers each request before the next connection on a dialer.
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := idleRequest(target)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	out.printf("ready %d", n)

	// Every connection now waits for the server to close it.
	var closed atomic.Int64
	for _, c := range conns {
		go func() {
			var b [1]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					if closed.Add(1) == int64(n) {
						out.printf("closed %d", n)
					}
					return
				}
			}
		}()
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// idleRequest opens a connection, sends one request whose answer (404, no
// route) the gateway gives without an upstream, and returns the connection
// once the answer has been read: idle, kept alive.
func idleRequest(target string) (net.Conn, error) {
	c, err := net.Dial("tcp", target)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, "GET /fault/idle HTTP/1.1\r\nHost: fault.test\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Close {
		c.Close()
		return nil, fmt.Errorf("answer %d (close %v), want 404 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	return c, nil
}

// raiseFileLimit raises the soft limit on open files to at least need, up
// to the hard limit; an error says when the hard limit is too low.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("the hard limit on open files is %d, %d are needed (raise it with ulimit -Hn)", lim.Max, need)
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// proc is a helper process seen from the test.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan string // stdout lines, closed at EOF
	stderr *testkit.SyncBuffer
	done   chan struct{} // closed once the process has been waited for
	addr   string        // a backend's address
}

// startHelper starts a helper process in role with settings (KEY=value)
// and stops it when the test ends.
func startHelper(t *testing.T, role string, settings ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), helperEnv+"="+role), settings...)
	return startProc(t, cmd, false)
}

// startProc starts cmd and stops it when the test ends. Its events are
// the lines of its stdout, or of its stderr with fromStderr.
func startProc(t *testing.T, cmd *exec.Cmd, fromStderr bool) *proc {
	t.Helper()
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, stdin: stdin, events: make(chan string, 1024), stderr: &testkit.SyncBuffer{}, done: make(chan struct{})}
	var from io.Reader
	if fromStderr {
		r, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		from = io.TeeReader(r, p.stderr)
	} else {
		if from, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = p.stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(from)
		for sc.Scan() {
			select {
			case p.events <- sc.Text():
			default: // nobody listens: the test did not ask for these
			}
		}
		close(p.events)
		_ = cmd.Wait() // after every read, as the pipes ask
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("process %s stderr (tail):\n%s", cmd, p.stderr.Tail(4096))
		}
	})
	return p
}

// startBackendProc starts a library backend process (schema v1 or v2) on
// addr ("127.0.0.1:0" for a free port) and waits until it serves.
func startBackendProc(t *testing.T, name, schema, addr string, hold bool) *proc {
	t.Helper()
	h := "0"
	if hold {
		h = "1"
	}
	p := startHelper(t, roleBackend, helperName+"="+name, helperSchema+"="+schema, helperAddr+"="+addr, helperHold+"="+h)
	p.addr = strings.TrimPrefix(p.expect(t, "addr "), "addr ")
	return p
}

// expect waits for the next event and fails unless it starts with prefix.
func (p *proc) expect(t *testing.T, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	select {
	case ev, ok := <-p.events:
		if !ok {
			<-p.done
			t.Fatalf("process exited (%v) before %q; stderr:\n%s", p.cmd.ProcessState, prefix, p.stderr.Tail(4096))
		}
		if !strings.HasPrefix(ev, prefix) {
			t.Fatalf("helper said %q, want %q…", ev, prefix)
		}
		return ev
	case <-ctx.Done():
		t.Fatalf("no %q from the helper: %v", prefix, ctx.Err())
	}
	return ""
}

// await waits for an event containing what, skipping others.
func (p *proc) await(t *testing.T, what string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				<-p.done
				t.Fatalf("process exited (%v) before %q; stderr:\n%s", p.cmd.ProcessState, what, p.stderr.Tail(4096))
			}
			if strings.Contains(ev, what) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %q from the process: %v", what, ctx.Err())
		}
	}
}

// buildCommands builds the commands pkgs (import paths) into a temporary
// directory, in one go build, and returns the binaries' paths in order.
func buildCommands(t *testing.T, pkgs ...string) []string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkgs, err, out)
	}
	bins := make([]string, len(pkgs))
	for i, pkg := range pkgs {
		bins[i] = filepath.Join(dir, path.Base(pkg))
	}
	return bins
}

// startExampleServer runs an example server binary on addr and waits
// until it serves; its address is read from its log.
func startExampleServer(t *testing.T, bin, addr string) *proc {
	t.Helper()
	p := startProc(t, exec.Command(bin, "-addr", addr), true)
	line := p.await(t, "serving with reflection")
	for f := range strings.FieldsSeq(line) {
		if a, ok := strings.CutPrefix(f, "addr="); ok {
			p.addr = a
		}
	}
	if p.addr == "" {
		t.Fatalf("no addr= in %q", line)
	}
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM, and the end of its stdin) and
// kills it if it has not exited within 10 s. It returns at once if the
// process has exited already.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}
