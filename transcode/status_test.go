package transcode

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
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

func TestEncodeStatus(t *testing.T) {
	known, _ := anypb.New(&errdetails.ResourceInfo{ResourceType: "book", ResourceName: "shelves/1/books/9"})
	unknown := &anypb.Any{TypeUrl: "type.googleapis.com/acme.v1.Secret", Value: []byte{1, 2, 3}}
	tests := []struct {
		name string
		st   *spb.Status
		want string
	}{
		{"no details", &spb.Status{Code: 5, Message: "book not found"}, `{"code":5,"message":"book not found","details":[]}`},
		{"escaping", &spb.Status{Code: 3, Message: "bad \"x\"\n<\x01>"}, `{"code":3,"message":"bad \"x\"\n\u003c\u0001\u003e","details":[]}`},
		{"invalid utf-8", &spb.Status{Code: 3, Message: "a\xffb"}, `{"code":3,"message":"a` + "\ufffd" + `b","details":[]}`},
		{
			"known and unknown detail", &spb.Status{Code: 5, Message: "m", Details: []*anypb.Any{known, unknown}},
			`{"code":5,"message":"m","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"book","resourceName":"shelves/1/books/9"},{"@type":"type.googleapis.com/acme.v1.Secret","value":"AQID"}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EncodeStatus(tc.st, nil)
			if c := compact(t, got, "application/json"); c != tc.want {
				t.Fatalf("got  %s\nwant %s", c, tc.want)
			}
		})
	}
}

func TestParseTimeout(t *testing.T) {
	good := map[string]string{"1S": "1s", "100m": "100ms", "5M": "5m0s", "2H": "2h0m0s", "7u": "7µs", "9n": "9ns", "99999999S": "27777h46m39s"}
	for in, want := range good {
		d, err := ParseTimeout(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "S", "1", "1s", "-1S", "123456789S", "1.5S", "1x"} {
		if _, err := ParseTimeout(in); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", in)
		}
	}
}
