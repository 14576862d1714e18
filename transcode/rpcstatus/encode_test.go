package rpcstatus

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestEncode(t *testing.T) {
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
			got := Encode(tc.st, nil)
			var buf bytes.Buffer // protojson's spacing varies on purpose
			if err := json.Compact(&buf, got); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			if c := buf.String(); c != tc.want {
				t.Fatalf("got  %s\nwant %s", c, tc.want)
			}
		})
	}
}
