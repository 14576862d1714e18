package rpcstatus

import "testing"

func TestMetadataKeys(t *testing.T) {
	for _, c := range []struct {
		key                       string
		valid, reserved, settable bool
	}{
		{"x-user-id", true, false, true},
		{"tenant_1.a", true, false, true},
		{"trace-bin", true, false, false},
		{"grpc-timeout", true, true, false},
		{"content-type", true, true, false},
		{"te", true, true, false},
		{"host", true, true, false},
		{":authority", false, true, false},
		{"X-User", false, false, false},
		{"a b", false, false, false},
		{"", false, false, false},
	} {
		if ValidMetadataKey(c.key) != c.valid || ReservedMetadataKey(c.key) != c.reserved || SettableMetadataKey(c.key) != c.settable {
			t.Errorf("%q: valid=%v reserved=%v settable=%v; want %v %v %v", c.key,
				ValidMetadataKey(c.key), ReservedMetadataKey(c.key), SettableMetadataKey(c.key), c.valid, c.reserved, c.settable)
		}
	}
}
