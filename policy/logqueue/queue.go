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
	// otherwise the lines queued at one moment go out in one write.
	PerLine bool
	// ReportEvery is how often, at most, drops are reported in the log
	// itself; default 10s.
	ReportEvery time.Duration
	// Dropped counts the dropped lines; default a counter of the queue's
	// own. A process gives the queues of its successive configs one
	// counter, so that the count outlives a reload.
	Dropped *atomic.Uint64
}

// DefaultLines is the default Options.Lines.
const DefaultLines = 16384

// maxBatchBytes bounds one write to the sink, and maxPooledLine the lines
// whose buffers are kept for reuse (a rare huge line is not kept).
const (
	maxBatchBytes = 64 << 10
	maxPooledLine = 4 << 10
)

// Queue is an io.Writer that takes log lines off the request path:
// Write copies the line into a bounded queue and returns at once, and a
// goroutine of the queue's own writes the lines to the sink, in one write
// per wake-up when the sink allows, so a burst costs a few system calls
// rather than one per line. A sink that cannot keep up never slows a
// request: when the queue is full the line is dropped, counted (Dropped)
// and reported in the log by a warning line at most every ReportEvery.
// Write expects whole lines (zerolog writes one per event). Safe for
// concurrent use; Close flushes what is queued.
type Queue struct {
	out   io.Writer
	o     Options
	lines chan *[]byte
	pool  sync.Pool

	dropped *atomic.Uint64
	closed  atomic.Bool
	once    sync.Once
	done    chan struct{}
	mu      sync.Mutex // serializes writes to out after Close
}

// New starts a queue in front of out.
func New(out io.Writer, o Options) *Queue {
	if o.Lines <= 0 {
		o.Lines = DefaultLines
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 10 * time.Second
	}
	if o.Dropped == nil {
		o.Dropped = new(atomic.Uint64)
	}
	q := &Queue{out: out, o: o, dropped: o.Dropped, lines: make(chan *[]byte, o.Lines), done: make(chan struct{})}
	q.pool.New = func() any { b := make([]byte, 0, 512); return &b }
	go q.run(o.Dropped.Load()) // read now: drops before the goroutine runs are this queue's
	return q
}

// Write queues a copy of p, or drops it when the queue is full. It never
// blocks on the sink and never fails.
func (q *Queue) Write(p []byte) (int, error) {
	if q.closed.Load() {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.out.Write(p)
	}
	bp := q.pool.Get().(*[]byte)
	*bp = append((*bp)[:0], p...)
	select {
	case q.lines <- bp:
	default:
		q.dropped.Add(1)
		q.pool.Put(bp)
	}
	return len(p), nil
}

// Dropped is the number of lines dropped because the queue was full (as
// counted by Options.Dropped).
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Close writes what is queued and stops the queue's goroutine; later
// writes go to the sink directly. Idempotent.
func (q *Queue) Close() error {
	q.once.Do(func() {
		q.closed.Store(true)
		q.lines <- nil // after every line queued before; the goroutine ends on it
		<-q.done
	})
	return nil
}

// run writes queued lines until Close's marker arrives. reported is the
// drop count already reported (a shared counter's, from earlier queues).
func (q *Queue) run(reported uint64) {
	defer close(q.done)
	var (
		batch      []byte
		lastReport time.Time
	)
	flush := func() {
		if len(batch) > 0 {
			q.write(batch)
			batch = batch[:0]
		}
	}
	take := func(bp *[]byte) {
		if q.o.PerLine {
			q.write(*bp)
		} else {
			batch = append(batch, *bp...)
			if len(batch) >= maxBatchBytes {
				flush()
			}
		}
		if cap(*bp) <= maxPooledLine {
			q.pool.Put(bp)
		}
	}
	for {
		bp := <-q.lines
		closing := bp == nil
		if !closing {
			take(bp)
		}
	drain:
		for {
			select {
			case bp := <-q.lines:
				if bp == nil {
					closing = true
					continue
				}
				take(bp)
			default:
				break drain
			}
		}
		if d := q.dropped.Load(); d > reported && (closing || time.Since(lastReport) >= q.o.ReportEvery) {
			batch = q.dropReport(batch, d-reported, d)
			if q.o.PerLine {
				flush()
			}
			reported, lastReport = d, time.Now()
		}
		flush()
		if closing {
			return
		}
	}
}

// write hands p to the sink, which may also be written by Write after
// Close. A sink that fails has nowhere to say so.
func (q *Queue) write(p []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
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
