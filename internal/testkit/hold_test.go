package testkit

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func TestHold(t *testing.T) {
	h := NewHold(2)
	defer h.Release()
	handler := func(context.Context, any) (any, error) { return "done", nil }
	held := metadata.NewIncomingContext(context.Background(), metadata.Pairs(HoldKey, "1"))

	// Unmarked calls pass at once.
	if v, err := h.Interceptor(context.Background(), nil, nil, handler); v != "done" || err != nil {
		t.Fatalf("unmarked call: %v, %v", v, err)
	}

	// A marked call waits for Release.
	got := make(chan any, 1)
	go func() {
		v, _ := h.Interceptor(held, nil, nil, handler)
		got <- v
	}()
	<-h.Arrived
	select {
	case v := <-got:
		t.Fatalf("held call returned %v before Release", v)
	case <-time.After(20 * time.Millisecond):
	}
	h.Release()
	if v := <-got; v != "done" {
		t.Fatalf("released call: %v", v)
	}
	h.Release() // twice is fine

	// A held call whose context ends returns its error.
	h2 := NewHold(1)
	defer h2.Release()
	ctx, cancel := context.WithCancel(held)
	cancel()
	if _, err := h2.Interceptor(ctx, nil, nil, handler); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled held call: %v", err)
	}
}
