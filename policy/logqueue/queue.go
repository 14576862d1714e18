package logqueue

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Queue.
type Options struct {
	// Lines is how many lines may wait for the sink; past it a line is
	// dropped and counted. Default 16384.
	Lines int
	// PerLine writes each line to the sink on its own (a sink that parses
	// what it is given line by line, such as zerolog's ConsoleWriter);
	// otherwise the lines waiting at one flush go out in one write.
	PerLine bool
	// FlushEvery bounds how long a line waits before the queue hands it to
	// the sink (unless the sink is still busy with the lines before it):
	// the queue's goroutine wakes this long after the first line of a
	// batch, or as soon as a batch reaches 64 KiB. Default 10ms.
	FlushEvery time.Duration
	// ReportEvery is how often, at most, drops are reported in the log
	// itself; default 10s.
	ReportEvery time.Duration
	// Dropped counts the dropped lines; default a counter of the queue's
	// own. A process gives the queues of its successive configs one
	// counter, so that the count outlives a reload.
	Dropped *atomic.Uint64
}

// Defaults of Options.
const (
	DefaultLines      = 16384
	DefaultFlushEvery = 10 * time.Millisecond
)

// flushBytes is the batch size at which the queue's goroutine is woken at
// once rather than at the end of FlushEvery; keepBytes bounds the buffer
// kept for the next batch after a flush (a burst's larger one is let go).
const (
	flushBytes = 64 << 10
	keepBytes  = 256 << 10
)

// Queue is an io.Writer that takes log lines off the request path: Write
// appends the line to a bounded buffer and returns at once, and a goroutine
// of the queue's own hands the buffer to the sink in one write (one per
// line with PerLine) at most FlushEvery after the first line of it, or as
// soon as it holds 64 KiB. Write never wakes that goroutine itself: a
// timer does, once per batch, so a request costs no goroutine switch and
// no system call of the log's at any rate. A sink that cannot keep up
// never slows a request: when Lines lines are already waiting, the line is
// dropped, counted (Dropped) and reported in the log by a warning line at
// most every ReportEvery. Write expects whole lines (zerolog writes one
// per event). Safe for concurrent use; Close flushes what is queued.
type Queue struct {
	out     io.Writer
	o       Options
	dropped *atomic.Uint64

	mu     sync.Mutex // guards buf, ends, kicked and closed
	buf    []byte     // the lines waiting, back to back
	ends   []int      // where each waiting line ends in buf
	kicked bool       // the timer is set to fire at once for a full batch
	closed bool       // writes go to the sink directly

	wake    *time.Timer // set by the Write that starts a batch; wakes run
	closing chan struct{}
	once    sync.Once
	done    chan struct{}
	outMu   sync.Mutex // serializes writes to out after Close
}

// New starts a queue in front of out.
func New(out io.Writer, o Options) *Queue {
	if o.Lines <= 0 {
		o.Lines = DefaultLines
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 10 * time.Second
	}
	if o.Dropped == nil {
		o.Dropped = new(atomic.Uint64)
	}
	q := &Queue{out: out, o: o, dropped: o.Dropped, closing: make(chan struct{}), done: make(chan struct{})}
	q.wake = time.NewTimer(time.Hour)
	q.wake.Stop()
	go q.run(o.Dropped.Load()) // read now: drops before the goroutine runs are this queue's
	return q
}

// Write queues a copy of p, or drops it when Lines lines are waiting. It
// never blocks on the sink and never fails.
func (q *Queue) Write(p []byte) (int, error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.outMu.Lock()
		defer q.outMu.Unlock()
		return q.out.Write(p)
	}
	if len(q.ends) >= q.o.Lines {
		q.mu.Unlock()
		q.dropped.Add(1)
		return len(p), nil
	}
	first := len(q.ends) == 0
	q.buf = append(q.buf, p...)
	q.ends = append(q.ends, len(q.buf))
	switch {
	case first:
		q.wake.Reset(q.o.FlushEvery)
	case len(q.buf) >= flushBytes && !q.kicked:
		q.kicked = true
		q.wake.Reset(0)
	}
	q.mu.Unlock()
	return len(p), nil
}

// Dropped is the number of lines dropped because the queue was full (as
// counted by Options.Dropped).
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Close writes what is queued and stops the queue's goroutine; later
// writes go to the sink directly. Idempotent.
func (q *Queue) Close() error {
	q.once.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		close(q.closing)
		<-q.done
	})
	return nil
}

// run writes the waiting lines each time the timer fires, and once more
// on Close. reported is the drop count already reported (a shared
// counter's, from earlier queues).
func (q *Queue) run(reported uint64) {
	defer close(q.done)
	var (
		batch      []byte
		ends       []int
		lastReport time.Time
		// report wakes run for drops left unreported by ReportEvery when
		// no further line would.
		report = time.NewTimer(time.Hour)
	)
	report.Stop()
	defer report.Stop()
	for {
		closing := false
		select {
		case <-q.wake.C:
		case <-report.C:
		case <-q.closing:
			closing = true
		}
		q.mu.Lock()
		batch, q.buf = q.buf, batch[:0]
		ends, q.ends = q.ends, ends[:0]
		q.kicked = false
		q.mu.Unlock()

		if q.o.PerLine {
			start := 0
			for _, end := range ends {
				q.write(batch[start:end])
				start = end
			}
			batch = batch[:0]
		}
		if d := q.dropped.Load(); d > reported {
			if closing || time.Since(lastReport) >= q.o.ReportEvery {
				batch = q.dropReport(batch, d-reported, d)
				reported, lastReport = d, time.Now()
			} else {
				report.Reset(q.o.ReportEvery - time.Since(lastReport))
			}
		}
		if len(batch) > 0 {
			q.write(batch)
		}
		if cap(batch) > keepBytes {
			batch = nil
		}
		batch = batch[:0]
		if closing {
			return
		}
	}
}

// write hands p to the sink, which may also be written by Write after
// Close. A sink that fails has nowhere to say so.
func (q *Queue) write(p []byte) {
	q.outMu.Lock()
	defer q.outMu.Unlock()
	_, _ = q.out.Write(p)
}

// dropReport appends the warning line that says lines were dropped.
func (q *Queue) dropReport(buf []byte, n, total uint64) []byte {
	buf = append(buf, `{"level":"warn","component":"access","time":"`...)
	buf = time.Now().UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, `","dropped_lines":`...)
	buf = strconv.AppendUint(buf, n, 10)
	buf = append(buf, `,"dropped_lines_total":`...)
	buf = strconv.AppendUint(buf, total, 10)
	buf = append(buf, `,"message":"access log lines dropped: the log sink is not keeping up (access_log.queue_lines)"}`+"\n"...)
	return buf
}
