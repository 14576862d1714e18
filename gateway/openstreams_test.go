package gateway

import (
	"context"
	"errors"
	"testing"
)

func TestOpenStreamsEndAll(t *testing.T) {
	var o openStreams
	ctx1, cancel1 := context.WithCancelCause(context.Background())
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	untrack1 := o.track(cancel1)
	o.track(cancel2)()
	untrack1()
	ctx3, cancel3 := context.WithCancelCause(context.Background())
	o.track(cancel3)
	cause := errors.New("bye")
	o.endAll(cause)
	if ctx1.Err() != nil || ctx2.Err() != nil {
		t.Fatal("an untracked stream was cancelled")
	}
	if context.Cause(ctx3) != cause {
		t.Fatalf("tracked stream: %v", context.Cause(ctx3))
	}
	ctx4, cancel4 := context.WithCancelCause(context.Background())
	o.track(cancel4)
	if context.Cause(ctx4) != cause {
		t.Fatalf("a stream opened after endAll: %v", context.Cause(ctx4))
	}
}
