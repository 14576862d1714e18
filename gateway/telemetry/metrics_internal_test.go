package telemetry

import (
	"testing"

	"google.golang.org/grpc/codes"
)

// Code labels are spelled as the gRPC spec does (CANCELLED, not Go's
// Canceled), and a code past the known ones keeps its number.
func TestGRPCCodeNames(t *testing.T) {
	want := []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED", "CODE_17"}
	for i, w := range want {
		if got := grpcCodeName(codes.Code(i)); got != w {
			t.Errorf("code %d: %q, want %q", i, got, w)
		}
	}
}
