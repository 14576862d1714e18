package testkit

import (
	"fmt"
	"sync"
	"testing"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = fmt.Fprint(&b, i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("%d bytes written, want 800", n)
	}
}

func TestSyncBufferTail(t *testing.T) {
	var b SyncBuffer
	if got := b.Tail(3); got != "" {
		t.Fatalf("empty Tail %q", got)
	}
	_, _ = b.Write([]byte("hello world"))
	if got := b.Tail(5); got != "world" {
		t.Fatalf("Tail(5) %q", got)
	}
	if got := b.Tail(100); got != "hello world" {
		t.Fatalf("Tail(100) %q", got)
	}
}
