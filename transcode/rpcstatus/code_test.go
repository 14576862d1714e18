package rpcstatus

import (
	"testing"

	"google.golang.org/grpc/codes"
)

func TestHTTPStatus(t *testing.T) {
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
		codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
		codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
		codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
		codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401, codes.Code(99): 500,
	}
	for c, s := range want {
		if got := HTTPStatus(c); got != s {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c, got, s)
		}
	}
}

func TestCode(t *testing.T) {
	want := map[int]codes.Code{
		200: codes.OK, 204: codes.OK, 400: codes.InvalidArgument, 401: codes.Unauthenticated,
		403: codes.PermissionDenied, 404: codes.NotFound, 409: codes.Unknown, 429: codes.ResourceExhausted,
		499: codes.Canceled, 500: codes.Internal, 501: codes.Unimplemented, 502: codes.Unknown,
		503: codes.Unavailable, 504: codes.DeadlineExceeded, 405: codes.Unknown, 302: codes.Unknown,
	}
	for s, c := range want {
		if got := Code(s); got != c {
			t.Errorf("Code(%d) = %v, want %v", s, got, c)
		}
	}
	// Where Code names a code, HTTPStatus maps it back to the same status.
	for s := 100; s < 600; s++ {
		if c := Code(s); c != codes.Unknown && c != codes.OK && HTTPStatus(c) != s {
			t.Errorf("HTTPStatus(Code(%d)) = %d", s, HTTPStatus(c))
		}
	}
}
