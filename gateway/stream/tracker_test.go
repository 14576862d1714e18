package stream

import (
	"context"
	"errors"
	"testing"
)

func TestTrackerEndAll(t *testing.T) {
	var o Tracker
	ctx1, cancel1 := context.WithCancelCause(context.Background())
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	untrack1 := o.Track(cancel1)
	o.Track(cancel2)()
	untrack1()
	ctx3, cancel3 := context.WithCancelCause(context.Background())
	o.Track(cancel3)
	cause := errors.New("bye")
	o.EndAll(cause)
	if ctx1.Err() != nil || ctx2.Err() != nil {
		t.Fatal("an untracked stream was cancelled")
	}
	if context.Cause(ctx3) != cause {
		t.Fatalf("tracked stream: %v", context.Cause(ctx3))
	}
	ctx4, cancel4 := context.WithCancelCause(context.Background())
	o.Track(cancel4)
	if context.Cause(ctx4) != cause {
		t.Fatalf("a stream opened after EndAll: %v", context.Cause(ctx4))
	}
}
