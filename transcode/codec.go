package transcode

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// WireMessage is a request or response already in protobuf wire form, which
// Codec sends as it is and receives without unmarshalling.
type WireMessage struct {
	data   []byte
	pooled *[]byte    // request bytes from the pool, until marshalled
	held   mem.Buffer // a reference to the bytes: a response's, or a marshalled request's
	pool   mem.BufferPool
	check  func([]byte) error // run on received bytes: a refusal fails the receive
	sent   mem.SliceBuffer    // unpooled bytes as Marshal hands them out, set once
}

// Bytes returns the wire bytes; valid until Release.
func (m *WireMessage) Bytes() []byte { return m.data }

// Release returns a received message's buffer to its pool. Safe to call
// more than once; the bytes must not be used afterwards.
func (m *WireMessage) Release() {
	switch {
	case m.held != nil:
		m.held.Free()
		m.held = nil
	case m.pooled != nil && m.pool != nil:
		m.pool.Put(m.pooled)
		m.pooled = nil
	}
	m.data = nil
}

// Codec is the gRPC codec of the gateway's upstream calls (grpc.ForceCodecV2):
// a *WireMessage travels as raw bytes, other values through grpc-go's proto
// codec. It counts fast-path calls and protojson fallbacks. Its Name is
// "proto": upstreams see an application/grpc+proto call. Safe for concurrent use.
type Codec struct {
	pool     mem.BufferPool
	proto    encoding.CodecV2
	stats    FastPathStats
	encoders sync.Pool // *wirejson.Encoder: response rendering scratch, reused
}

// NewCodec returns a codec drawing buffers from pool (nil: grpc-go's default).
func NewCodec(pool mem.BufferPool) (*Codec, error) {
	if pool == nil {
		pool = mem.DefaultBufferPool()
	}
	pc := encoding.GetCodecV2(protocodec.Name)
	if pc == nil {
		return nil, fmt.Errorf("transcode: grpc-go's proto codec is not available")
	}
	c := &Codec{pool: pool, proto: pc}
	c.encoders.New = func() any { return &wirejson.Encoder{} }
	return c, nil
}

// Name is the content-subtype the codec announces: "proto".
func (c *Codec) Name() string { return protocodec.Name }

// Marshal hands a WireMessage's bytes to grpc-go as a reference-counted
// buffer (others go to the proto codec), keeping a reference of its own for
// a retry's Marshal: pooled bytes return only once written and Released.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*WireMessage)
	if !ok {
		return c.proto.Marshal(v)
	}
	if m.pooled != nil {
		*m.pooled = m.data
		m.held = mem.NewBuffer(m.pooled, c.pool)
		m.pooled = nil
	}
	if m.held != nil {
		m.held.Ref()
		return mem.BufferSlice{m.held}, nil
	}
	if m.sent == nil { // once: a retry must not write what the last try may still read
		m.sent = m.data
	}
	return mem.BufferSlice{&m.sent}, nil // the slice header lives in m: no allocation
}

// Unmarshal keeps a reference to the received bytes (or a pooled copy when in
// pieces) in a WireMessage, after its own check of them if it has one (a
// stream message's depth); other messages go to the proto codec.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*WireMessage)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	m.Release()
	if len(data) == 1 {
		data[0].Ref()
		m.held = data[0]
		m.data = data[0].ReadOnlyData()
	} else {
		p := c.pool.Get(data.Len())
		data.CopyTo(*p)
		m.pooled, m.pool, m.data = p, c.pool, *p
	}
	if m.check != nil {
		if err := m.check(m.data); err != nil {
			m.Release()
			return err
		}
	}
	return nil
}

// newRequest returns an empty request buffer with room for about size bytes.
func (c *Codec) newRequest(size int) *WireMessage {
	if mem.IsBelowBufferPoolingThreshold(size) { // grpc-go would not give it back (mem.NewBuffer)
		return &WireMessage{data: make([]byte, 0, size)}
	}
	p := c.pool.Get(size)
	return &WireMessage{pooled: p, pool: c.pool, data: (*p)[:0]}
}

// Stats returns the fast-path counters.
func (c *Codec) Stats() *FastPathStats { return &c.stats }

// FastPathStats counts transcoded messages by path, so the rate of protojson
// fallbacks is visible (to metrics). Safe for concurrent use; the zero value is ready.
type FastPathStats struct {
	requests, requestFallbacks   atomic.Uint64
	responses, responseFallbacks atomic.Uint64
}

// FastPathSnapshot is a point-in-time copy of FastPathStats.
type FastPathSnapshot struct {
	// Requests and Responses count messages transcoded directly between
	// JSON and wire bytes.
	Requests  uint64 `json:"requests"`
	Responses uint64 `json:"responses"`
	// RequestFallbacks and ResponseFallbacks count messages that went
	// through dynamicpb and protojson instead (a type the fast path does
	// not cover, such as Any, or input it leaves to protojson).
	RequestFallbacks  uint64 `json:"request_fallbacks"`
	ResponseFallbacks uint64 `json:"response_fallbacks"`
}

// Snapshot reads the counters.
func (s *FastPathStats) Snapshot() FastPathSnapshot {
	return FastPathSnapshot{
		Requests: s.requests.Load(), Responses: s.responses.Load(),
		RequestFallbacks: s.requestFallbacks.Load(), ResponseFallbacks: s.responseFallbacks.Load(),
	}
}
