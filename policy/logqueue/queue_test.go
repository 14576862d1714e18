package logqueue_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/refract-gateway/refract/policy/logqueue"
)

// sink records every write it is given, and can hold writers until
// released.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
	gate   chan struct{} // nil: never blocks
}

func (s *sink) Write(p []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.writes, nil))
}

func TestLogQueueKeepsOrderAndFlushesOnClose(t *testing.T) {
	out := &sink{}
	q := logqueue.New(out, logqueue.Options{})
	var want strings.Builder
	for i := range 1000 {
		line := fmt.Sprintf(`{"n":%d}`+"\n", i)
		want.WriteString(line)
		buf := []byte(line)
		if n, err := q.Write(buf); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		copy(buf, "XXXXXX") // the caller reuses its buffer at once (zerolog does)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.text(); got != want.String() {
		t.Fatalf("the sink got %d bytes, want %d in order", len(got), want.Len())
	}
	if q.Dropped() != 0 {
		t.Fatalf("dropped %d", q.Dropped())
	}
	// After Close, writes go straight to the sink.
	_, _ = q.Write([]byte("late\n"))
	if !strings.HasSuffix(out.text(), "late\n") {
		t.Fatal("a write after Close was lost")
	}
}

// A sink that stops taking lines never blocks a writer: what does not fit
// the queue is dropped, counted, and reported in the log once it moves.
func TestLogQueueDropsAndReportsWhenTheSinkStalls(t *testing.T) {
	out := &sink{gate: make(chan struct{})}
	q := logqueue.New(out, logqueue.Options{Lines: 8})
	// The queue's goroutine takes what is queued when it wakes and then
	// waits in the sink; 8 more fill the queue; the rest are dropped.
	const total = 100
	for i := range total {
		_, _ = q.Write([]byte(fmt.Sprintf("line %d\n", i)))
	}
	dropped := q.Dropped()
	if dropped == 0 || dropped > total-8 {
		t.Fatalf("dropped %d of %d with room for 8 queued", dropped, total)
	}
	close(out.gate)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	text := out.text()
	kept := strings.Count(text, "line ")
	if uint64(kept)+dropped != total {
		t.Fatalf("%d lines written + %d dropped != %d", kept, dropped, total)
	}
	// Each report says how many were dropped since the last one: together
	// they account for every drop.
	var reported uint64
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "line ") {
			continue
		}
		var report struct {
			Level   string `json:"level"`
			Dropped uint64 `json:"dropped_lines"`
			Total   uint64 `json:"dropped_lines_total"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &report); err != nil {
			t.Fatalf("not a drop report: %q: %v", line, err)
		}
		reported += report.Dropped
		if report.Level != "warn" || report.Total != reported || !strings.Contains(report.Message, "queue_lines") {
			t.Fatalf("report %+v after %d reported", report, reported)
		}
	}
	if reported != dropped {
		t.Fatalf("reports account for %d drops of %d", reported, dropped)
	}
}

// A line-parsing sink gets one line per write; otherwise a burst goes out
// in fewer writes than lines.
func TestLogQueueBatching(t *testing.T) {
	for _, perLine := range []bool{true, false} {
		out := &sink{gate: make(chan struct{})}
		q := logqueue.New(out, logqueue.Options{PerLine: perLine})
		for i := range 50 {
			_, _ = q.Write([]byte(fmt.Sprintf("line %d\n", i)))
		}
		close(out.gate) // the 49 behind the first are queued by now
		_ = q.Close()
		out.mu.Lock()
		writes := out.writes
		out.mu.Unlock()
		if perLine && len(writes) != 50 {
			t.Fatalf("per line: %d writes for 50 lines", len(writes))
		}
		if !perLine && len(writes) > 3 {
			t.Fatalf("batched: %d writes for 50 lines queued at once", len(writes))
		}
		for _, w := range writes {
			if perLine && bytes.Count(w, []byte("\n")) != 1 {
				t.Fatalf("per line: a write of %q", w)
			}
		}
	}
}

func TestLogQueueConcurrentWriters(t *testing.T) {
	out := &sink{}
	q := logqueue.New(out, logqueue.Options{Lines: 1 << 16})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				_, _ = q.Write([]byte(fmt.Sprintf("g%d-%d\n", g, i)))
			}
		})
	}
	wg.Wait()
	_ = q.Close()
	if n := strings.Count(out.text(), "\n"); n != 4000 || q.Dropped() != 0 {
		t.Fatalf("%d lines, %d dropped", n, q.Dropped())
	}
}

func BenchmarkLogQueueWrite(b *testing.B) {
	q := logqueue.New(&sink{}, logqueue.Options{})
	defer q.Close()
	line := []byte(`{"level":"info","component":"access","request_id":"abc","http_method":"GET","path":"/v1/shelves/1/books/1","status":200,"latency":0.071}` + "\n")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = q.Write(line)
	}
}
