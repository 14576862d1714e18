package policy

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetadataMapsComeBackEmpty(t *testing.T) {
	var p MetadataMaps
	md := p.Get()
	md["x-forwarded-for"] = []string{"192.0.2.1"}
	md["authorization"] = []string{"Bearer t"}
	p.Put(md)
	for range 3 { // the pool may or may not hand md back: every map must be empty
		if got := p.Get(); len(got) != 0 {
			t.Fatalf("a recycled map holds %v", got)
		}
	}
	big := p.Get()
	for i := range maxPooledKeys + 1 {
		big[strings.Repeat("k", i+1)] = []string{"v"}
	}
	p.Put(big) // too many keys: dropped, not cleared
	if len(big) != maxPooledKeys+1 {
		t.Fatalf("a map over the limit was cleared: %d keys", len(big))
	}
	p.Put(nil) // a failed MetadataInto's result
}

func TestBodyBuffersKeepWhatReadBodyGrew(t *testing.T) {
	var p BodyBuffers
	buf := p.Get()
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"message":"hello"}`))
	body, err := ReadBodyInto(*buf, httptest.NewRecorder(), r, 1<<20, BodyPace{})
	if err != nil || string(body) != `{"message":"hello"}` {
		t.Fatalf("body %q, %v", body, err)
	}
	p.Put(buf, body)
	if cap(*buf) < 512 {
		t.Fatalf("the buffer kept has room for %d bytes, want the 512 ReadBodyInto made", cap(*buf))
	}
	// A buffer large enough is read into, not replaced.
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	again, err := ReadBodyInto(*buf, httptest.NewRecorder(), r, 1<<20, BodyPace{})
	if err != nil || string(again) != `{"a":1}` || &again[:1][0] != &(*buf)[:1][0] {
		t.Fatalf("body %q, %v: not read into the recycled buffer", again, err)
	}
	huge := new([]byte)
	p.Put(huge, make([]byte, 0, maxPooledBody+1)) // over the limit: let go
}
