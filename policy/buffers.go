package policy

import (
	"sync"

	"google.golang.org/grpc/metadata"
)

// BodyBuffers recycles request body buffers between calls whose bodies are
// not kept once decoded. The zero value is ready; safe for concurrent use.
type BodyBuffers struct{ pool sync.Pool }

const maxPooledBody = 64 << 10 // the largest kept: a rare large body pins no memory

// Get returns a buffer to pass to ReadBodyInto; give it back with Put.
func (p *BodyBuffers) Get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// Put returns buf, holding body (what ReadBodyInto returned into it), once
// nothing reads the body any more.
func (p *BodyBuffers) Put(buf *[]byte, body []byte) {
	if cap(body) > cap(*buf) {
		*buf = body // the buffer ReadBodyInto grew or made
	}
	if cap(*buf) <= maxPooledBody {
		p.pool.Put(buf)
	}
}

// MetadataMaps recycles outgoing metadata maps between calls: grpc-go reads
// a call's metadata only while it opens the call's streams, so the map is
// free once the call has returned. The zero value is ready; safe for
// concurrent use.
type MetadataMaps struct{ pool sync.Pool }

const maxPooledKeys = 32 // the most kept: an unusual request pins no large map

// Get returns an empty map.
func (p *MetadataMaps) Get() metadata.MD {
	if md, ok := p.pool.Get().(metadata.MD); ok {
		return md
	}
	return make(metadata.MD, 8)
}

// Put empties md and keeps it for a later Get; the caller no longer
// reads or writes it, and neither does anything it passed md to.
func (p *MetadataMaps) Put(md metadata.MD) {
	if md == nil || len(md) > maxPooledKeys {
		return
	}
	clear(md)
	p.pool.Put(md)
}
