package testkit

import (
	"context"
	"net"
	"net/http"
	"testing"

	"google.golang.org/grpc/test/bufconn"
)

// memBuffer is how many bytes each direction of an in-memory connection
// buffers before a write waits for the reader.
const memBuffer = 1 << 20

// MemListener is a net.Listener whose connections are buffered in-memory
// pipes (grpc-go's bufconn): a server on it needs no port, and the test
// reaches it with DialContext (for an http.Transport), Dial (for
// grpc.WithContextDialer) or HTTPClient. The address a client dials is
// ignored. Closed when the test ends; safe for concurrent use.
type MemListener struct {
	l *bufconn.Listener
}

// NewMemListener returns a listener that t's cleanup closes.
func NewMemListener(t testing.TB) *MemListener {
	l := &MemListener{l: bufconn.Listen(memBuffer)}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// Accept waits for the next connection; after Close it returns an error.
func (l *MemListener) Accept() (net.Conn, error) { return l.l.Accept() }

// Close stops Accept and makes later dials fail; connections already made
// stay open. Calling it again does nothing.
func (l *MemListener) Close() error { return l.l.Close() }

// Addr is a placeholder address ("bufconn").
func (l *MemListener) Addr() net.Addr { return l.l.Addr() }

// DialContext connects to the listener, ignoring network and address; it
// fits http.Transport.DialContext. It fails once the listener is closed
// and waits for Accept no longer than ctx allows.
func (l *MemListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	return l.l.DialContext(ctx)
}

// Dial is DialContext in the shape grpc.WithContextDialer takes; dial the
// target "passthrough:///mem" (any name does).
func (l *MemListener) Dial(ctx context.Context, _ string) (net.Conn, error) {
	return l.l.DialContext(ctx)
}

// HTTPClient returns a client whose every request, whatever its URL's
// host, goes to the listener (use http://mem/...). Its idle connections
// are closed when the test ends, before the listener is.
func (l *MemListener) HTTPClient(t testing.TB) *http.Client {
	tr := &http.Transport{DialContext: l.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
