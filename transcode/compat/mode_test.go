package compat

import "testing"

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Refract, "refract": Refract, "grpc-gateway": GRPCGateway} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, m, err)
		}
	}
	if _, err := ParseMode("grpc_gateway"); err == nil || err.Error() != `compat: "grpc_gateway" is not refract or grpc-gateway` {
		t.Errorf("error = %v", err)
	}
	if GRPCGateway.String() != "grpc-gateway" || Refract.String() != "refract" {
		t.Error("String")
	}
}
