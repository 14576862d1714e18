package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/internal/testkit"
)

// stalledLog is a log output that takes no access line until released,
// like a pipe nobody reads (the process's own lines pass, so that the
// server can start); what it is given is kept.
type stalledLog struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (s *stalledLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"component":"access"`)) {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *stalledLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// The access log is written off the request path: with the log output
// stalled, requests are still answered; the lines that do not fit the
// queue are dropped, counted in a metric and reported in the log once it
// moves again, and those queued are written at shutdown.
func TestAccessLogStalledOutputNeverBlocksRequests(t *testing.T) {
	lib := startLibrary(t)
	listen, admin := testkit.FreeAddr(t), testkit.FreeAddr(t)
	src := &memConfig{}
	src.set(fmt.Sprintf("listen: %s\nadmin: %s\ndrain_period: 0s\naccess_log: {queue_lines: 16}\n", listen, admin) +
		libraryConfig(lib.Addr, ""))
	out := &stalledLog{release: make(chan struct{})}
	s, err := server.New(t.Context(), server.Options{Source: src, LogOutput: out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	released := sync.OnceFunc(func() { close(out.release) })
	defer released()

	warmup := 0 // each answered try is an access line too (many on a slow machine)
	eventually(t, 10*time.Second, "routes", func() bool {
		c, _, _ := fetch("GET", "http://"+listen+"/v1/shelves", "")
		if c != 0 { // 0: not listening yet, so no line
			warmup++
		}
		return c == 200
	})
	const requests = 200
	for i := range requests {
		if c, _, body := fetch("GET", "http://"+listen+"/v1/shelves/1", ""); c != 200 {
			t.Fatalf("request %d with the log stalled: %d %s", i, c, body)
		}
	}
	_, _, metrics := fetch("GET", "http://"+admin+"/metrics", "")
	m := regexp.MustCompile(`(?m)^refract_access_log_dropped_lines_total(?:\{config_version="[0-9a-f]+"\})? (\d+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Fatal("no refract_access_log_dropped_lines_total in /metrics")
	}
	dropped, _ := strconv.Atoi(m[1])
	// Taken before the stall: the batch the writer holds in the stalled
	// output (at most the 16 the queue held) and a full queue again (16).
	if dropped < requests+warmup-(16+16) {
		t.Fatalf("dropped %d access lines of %d+ with a queue of 16", dropped, requests)
	}

	released()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	log := out.String()
	if n := strings.Count(log, `"component":"access","request_id"`); n == 0 || n > requests+warmup-dropped+2 {
		t.Fatalf("%d access lines written with %d dropped of %d:\n%s", n, dropped, requests+warmup, log)
	}
	if !strings.Contains(log, `"dropped_lines_total":`) || !strings.Contains(log, "access_log.queue_lines") {
		t.Fatalf("the drops were not reported in the log:\n%s", log)
	}
}
