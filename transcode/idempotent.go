package transcode

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// MethodIdempotent reports whether md's idempotency_level option is
// IDEMPOTENT or NO_SIDE_EFFECTS: whether running it twice is safe. False
// for a nil md.
func MethodIdempotent(md protoreflect.MethodDescriptor) bool {
	if md == nil {
		return false
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return false
	}
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_IDEMPOTENT, descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		return true
	}
	return false
}
