package leanunary

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	gstatus "google.golang.org/grpc/status"
)

// The windows this side offers: responses up to recvStreamWindow flow
// without a WINDOW_UPDATE, and the connection's window is topped up
// whenever half of it has been used.
const (
	recvStreamWindow = 1 << 20
	recvConnWindow   = 4 << 20
	maxHeaderList    = 1 << 20 // a backend's header block, decoded
	maxFrameRead     = 1 << 20 // the largest frame this side accepts
)

// conn is one HTTP/2 connection to one endpoint, carrying unary calls.
// Writers append frames to out under mu; whoever finds no flush in
// progress writes them (and what others append meanwhile), so a busy
// connection sends many calls' frames in one system call and no goroutine
// hand-off is needed to send.
type conn struct {
	addr      net.Addr
	authority string
	nc        net.Conn

	mu       sync.Mutex
	fr       *http2.Framer // appends to out
	out      []byte        // frames not yet written
	spare    []byte        // the flushing writer's buffer, swapped with out
	flushing bool
	// flushQueued: the writer goroutine has been asked to flush (wake).
	flushQueued bool
	wake        chan struct{}
	henc        *hpack.Encoder
	hbuf        bytes.Buffer
	nextID      uint32
	streams     map[uint32]*call
	err         error // set once: the connection is done; new calls go elsewhere
	goAway      bool  // no new streams; calls in flight finish
	maxOut      uint32
	// Send flow control: the peer's windows.
	connWindow    int64
	initialWindow int64
	maxFrame      uint32
	windowWait    *sync.Cond // waits on mu for window

	recvUnacked int // connection-level bytes received and not yet acknowledged
	done        chan struct{}
}

// errConnClosed ends the calls of a connection the gateway closed, or
// the server went away from (GOAWAY).
var errConnClosed = errors.New("transport is closing")

// readError ends the calls of a connection that broke: worded as grpc-go
// words it, which the gateway's error mapping recognises
// (transcode.TransportFailure).
type readError struct{ err error }

func (e readError) Error() string { return "error reading from server: " + e.err.Error() }

// dial opens a connection to addr and exchanges the HTTP/2 prefaces.
func dial(ctx context.Context, addr, authority string, o Options) (*conn, error) {
	nc, err := o.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if o.TLS != nil {
		conf := o.TLS
		if conf.ServerName == "" { // as grpc-go verifies: the authority, without a port
			conf = conf.Clone()
			conf.ServerName = authority
			if h, _, err := net.SplitHostPort(authority); err == nil {
				conf.ServerName = h
			}
		}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			tc.Close()
			return nil, fmt.Errorf("%s negotiated %q, not h2", addr, p)
		}
		nc = tc
	}
	c := &conn{
		addr:          nc.RemoteAddr(),
		authority:     authority,
		nc:            nc,
		nextID:        1,
		streams:       make(map[uint32]*call),
		maxOut:        math.MaxUint32, // unlimited until the peer's SETTINGS say otherwise
		connWindow:    65535,
		initialWindow: 65535,
		maxFrame:      16384,
		done:          make(chan struct{}),
		wake:          make(chan struct{}, 1),
	}
	c.windowWait = sync.NewCond(&c.mu)
	c.fr = http2.NewFramer(outWriter{c}, bufio.NewReaderSize(nc, 16<<10))
	c.fr.SetMaxReadFrameSize(maxFrameRead)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = maxHeaderList
	c.henc = hpack.NewEncoder(&c.hbuf)

	c.out = append(c.out, http2.ClientPreface...)
	if err := c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: recvStreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderList},
	); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.fr.WriteWindowUpdate(0, recvConnWindow-65535); err != nil {
		nc.Close()
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		nc.SetDeadline(deadline)
	}
	if _, err := nc.Write(c.out); err != nil {
		nc.Close()
		return nil, err
	}
	c.out = c.out[:0]
	// The server's SETTINGS come first; wait for them so that the first
	// call knows the server's limits.
	f, err := c.fr.ReadFrame()
	if err != nil {
		nc.Close()
		return nil, err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		nc.Close()
		return nil, fmt.Errorf("%s: the server's first frame is %v, not SETTINGS", addr, f.Header().Type)
	}
	nc.SetDeadline(time.Time{})
	c.mu.Lock()
	err = c.applySettings(sf)
	if err == nil {
		c.flushLocked()
		err = c.err
	}
	c.mu.Unlock()
	if err != nil {
		nc.Close()
		return nil, err
	}
	go c.read()
	go c.writeLoop()
	return c, nil
}

// applySettings takes the peer's settings and acknowledges them. Under mu.
func (c *conn) applySettings(sf *http2.SettingsFrame) error {
	err := sf.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxOut = s.Val
		case http2.SettingInitialWindowSize:
			if s.Val > 1<<31-1 {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
			delta := int64(s.Val) - c.initialWindow
			c.initialWindow = int64(s.Val)
			for _, cl := range c.streams {
				cl.sendWindow += delta
			}
			c.windowWait.Broadcast()
		case http2.SettingMaxFrameSize:
			if s.Val < 16384 || s.Val > 1<<24-1 {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
			c.maxFrame = s.Val
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSizeLimit(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.fr.WriteSettingsAck()
}

// flushLocked writes what is queued unless another goroutine is already
// writing (it will write this too). Called with mu held; returns with mu
// held.
func (c *conn) flushLocked() {
	if c.flushing {
		return
	}
	c.flushing = true
	for len(c.out) > 0 && c.err == nil {
		buf := c.out
		c.out = c.spare[:0]
		c.mu.Unlock()
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		if cap(buf) <= 256<<10 {
			c.spare = buf[:0]
		}
		if err != nil {
			c.failLocked(fmt.Errorf("failed to write: %w", err))
		}
	}
	c.flushing = false
}

// flushSoon writes the queued frames: at once when the connection
// carries no other call; else the connection's writer writes them after
// the goroutines ready to run have had their turn, so that a busy
// connection sends many calls' frames in one system call (grpc-go's
// writer yields the same way). Under mu.
func (c *conn) flushSoon() {
	if len(c.streams) <= 1 {
		c.flushLocked()
		return
	}
	if !c.flushQueued {
		c.flushQueued = true
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// writeLoop is the connection's writer for flushSoon.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		runtime.Gosched()
		c.mu.Lock()
		c.flushQueued = false
		c.flushLocked()
		c.mu.Unlock()
	}
}

// failLocked ends the connection: every call in flight fails with err,
// as one the server may have processed. Under mu.
func (c *conn) failLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	c.nc.Close()
	for id, cl := range c.streams {
		delete(c.streams, id)
		cl.finish(err, false)
	}
	c.windowWait.Broadcast()
	close(c.done)
}

// usable reports whether a new call may start on the connection. Under mu.
func (c *conn) usable() bool {
	return c.err == nil && !c.goAway && uint32(len(c.streams)) < c.maxOut && c.nextID < 1<<31-1
}

// close ends the connection.
func (c *conn) close() {
	c.mu.Lock()
	c.failLocked(errConnClosed)
	c.mu.Unlock()
}

// read is the connection's reader: it hands response frames to their
// calls and answers the connection's own frames.
func (c *conn) read() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.mu.Lock()
			c.failLocked(readError{err})
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		err = c.handle(f)
		if err != nil {
			c.failLocked(err)
			c.mu.Unlock()
			return
		}
		c.flushLocked()
		if c.goAway && len(c.streams) == 0 {
			c.failLocked(errConnClosed)
		}
		c.mu.Unlock()
	}
}

// outWriter is where the framer writes: the connection's queue, under mu.
type outWriter struct{ c *conn }

func (w outWriter) Write(p []byte) (int, error) {
	w.c.out = append(w.c.out, p...)
	return len(p), nil
}

// handle takes one frame. Under mu.
func (c *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		cl := c.streams[f.StreamID]
		if cl == nil {
			return nil // a call that was cancelled
		}
		if err := cl.headers(f); err != nil {
			c.resetLocked(cl, http2.ErrCodeProtocol, gstatus.Error(codes.Internal, "the upstream's response is malformed: "+err.Error()))
			return nil
		}
		if f.StreamEnded() {
			delete(c.streams, f.StreamID)
			cl.finish(nil, false)
		}
	case *http2.DataFrame:
		n := int(f.Length)
		c.recvUnacked += n
		if c.recvUnacked >= recvConnWindow/2 {
			c.fr.WriteWindowUpdate(0, uint32(c.recvUnacked))
			c.recvUnacked = 0
		}
		cl := c.streams[f.StreamID]
		if cl == nil {
			return nil
		}
		if err := cl.data(f.Data()); err != nil {
			c.resetLocked(cl, http2.ErrCodeCancel, err)
			return nil
		}
		cl.recvUnacked += n
		if cl.recvUnacked >= recvStreamWindow/2 && !f.StreamEnded() {
			c.fr.WriteWindowUpdate(f.StreamID, uint32(cl.recvUnacked))
			cl.recvUnacked = 0
		}
		if f.StreamEnded() {
			delete(c.streams, f.StreamID)
			cl.finish(nil, false)
		}
	case *http2.RSTStreamFrame:
		if cl := c.streams[f.StreamID]; cl != nil {
			delete(c.streams, f.StreamID)
			cl.finish(http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode}, f.ErrCode == http2.ErrCodeRefusedStream)
		}
	case *http2.SettingsFrame:
		if !f.IsAck() {
			return c.applySettings(f)
		}
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			c.connWindow += int64(f.Increment)
		} else if cl := c.streams[f.StreamID]; cl != nil {
			cl.sendWindow += int64(f.Increment)
		}
		c.windowWait.Broadcast()
	case *http2.PingFrame:
		if !f.IsAck() {
			return c.fr.WritePing(true, f.Data)
		}
	case *http2.GoAwayFrame:
		c.goAway = true
		// Calls the server will not process never reached it: they may go
		// elsewhere.
		for id, cl := range c.streams {
			if id > f.LastStreamID {
				delete(c.streams, id)
				cl.finish(errConnClosed, true)
			}
		} // the read loop closes the connection once its last call ends
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // push was refused in SETTINGS
	}
	return nil
}

// resetLocked abandons a call: RST_STREAM to the server, err to the
// caller. Under mu.
func (c *conn) resetLocked(cl *call, code http2.ErrCode, err error) {
	if _, ok := c.streams[cl.id]; !ok {
		return
	}
	delete(c.streams, cl.id)
	c.fr.WriteRSTStream(cl.id, code)
	cl.finish(err, false)
	if c.goAway && len(c.streams) == 0 {
		c.failLocked(errConnClosed)
	}
}

// ready reports whether a new call may start on the connection, and
// whether the connection is done taking calls (broken, going away, out
// of stream ids) and needs replacing; one at its peer's limit of calls in
// flight is neither.
func (c *conn) ready() (take, replace bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usable(), c.err != nil || c.goAway || c.nextID >= 1<<31-1
}

// inFlight is the number of calls in flight.
func (c *conn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}

// drain lets the calls in flight finish and closes the connection after
// them; no new call starts on it.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAway = true
	if len(c.streams) == 0 {
		c.failLocked(errConnClosed)
	}
}
