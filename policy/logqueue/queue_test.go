package logqueue_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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

// eventually waits, generously, for cond: the queue's goroutine runs on a
// timer, and the machine may be slow.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A line reaches the sink within FlushEvery, without Close or any further
// line to push it out.
func TestLogQueueWritesALineWithoutClose(t *testing.T) {
	out := &sink{}
	q := logqueue.New(out, logqueue.Options{FlushEvery: time.Millisecond})
	defer q.Close()
	for i := range 3 {
		line := fmt.Sprintf("line %d\n", i)
		_, _ = q.Write([]byte(line))
		eventually(t, "the line is not written", func() bool { return strings.HasSuffix(out.text(), line) })
	}
}

// A batch that reaches 64 KiB goes to the sink at once, not at the end of
// FlushEvery.
func TestLogQueueWritesAFullBatchEarly(t *testing.T) {
	out := &sink{}
	q := logqueue.New(out, logqueue.Options{FlushEvery: time.Hour})
	defer q.Close()
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 64 {
		_, _ = q.Write(line)
	}
	eventually(t, "a 64 KiB batch is not written", func() bool { return len(out.text()) >= 64<<10 })
	_, _ = q.Write([]byte("short\n"))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.text(); len(got) != 64<<10+len("short\n") || q.Dropped() != 0 {
		t.Fatalf("%d bytes written, %d dropped", len(got), q.Dropped())
	}
}

// Drops that come within ReportEvery of the last report are reported once
// it has passed, with no further line to carry the report and no Close.
func TestLogQueueReportsLateDropsWithoutFurtherLines(t *testing.T) {
	out := &sink{gate: make(chan struct{})}
	q := logqueue.New(out, logqueue.Options{Lines: 4, FlushEvery: time.Millisecond, ReportEvery: 100 * time.Millisecond})
	defer q.Close()
	for i := range 5 { // 4 wait, 1 dropped
		_, _ = q.Write([]byte(fmt.Sprintf("a%d\n", i)))
	}
	// Once the goroutine has taken the 4 and the report of the drop (and
	// waits in the sink), a line is queued again; 3 more join it, 1 more
	// is dropped, within ReportEvery of the report unless the machine is
	// very slow.
	eventually(t, "the first batch is not taken", func() bool {
		d := q.Dropped()
		_, _ = q.Write([]byte("b\n"))
		return q.Dropped() == d
	})
	before := q.Dropped()
	for range 4 {
		_, _ = q.Write([]byte("c\n"))
	}
	dropped := q.Dropped()
	if dropped != before+1 {
		t.Fatalf("%d dropped of 4 lines behind 1 with room for 4", dropped-before)
	}
	close(out.gate)
	reports := func() (n uint64) {
		for _, line := range strings.Split(out.text(), "\n") {
			var r struct {
				Dropped uint64 `json:"dropped_lines"`
			}
			if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &r) == nil {
				n += r.Dropped
			}
		}
		return n
	}
	eventually(t, "the drops are not all reported", func() bool { return reports() == dropped })
}
