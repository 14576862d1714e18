package transcode

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
)

// reusingPool hands out the last buffer put back, so a use after the bytes
// went back to the pool shows as overwritten bytes.
type reusingPool struct{ free []*[]byte }

func (p *reusingPool) Get(n int) *[]byte {
	if len(p.free) > 0 {
		b := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func (p *reusingPool) Put(b *[]byte) { p.free = append(p.free, b) }

func TestCodecMarshalsARequestAgainForARetry(t *testing.T) {
	pool := &reusingPool{}
	c, err := NewCodec(pool)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("wire"), 1024) // above grpc-go's pooling threshold
	m := c.newRequest(len(want))
	m.data = append(m.data, want...)

	first, _ := c.Marshal(m)
	first.Free() // grpc-go wrote the first try
	// Someone else takes a buffer from the pool and scribbles on it.
	other := pool.Get(len(want))
	for i := range *other {
		(*other)[i] = 'x'
	}
	second, _ := c.Marshal(m) // the retry
	if got := second.Materialize(); !bytes.Equal(got, want) {
		t.Fatalf("the retried request's bytes changed after the first try was written (%q…)", got[:8])
	}
	second.Free()
	if len(pool.free) != 0 {
		t.Fatalf("bytes went back to the pool while the message still holds them")
	}
	m.Release()
	if len(pool.free) != 1 {
		t.Fatalf("after Release the bytes should be back in the pool; pool holds %d", len(pool.free))
	}
	var _ mem.BufferPool = pool
}
