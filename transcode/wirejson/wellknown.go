package wirejson

import "google.golang.org/protobuf/reflect/protoreflect"

// IsWrapper reports the wrapper types of google/protobuf/wrappers.proto
// (DoubleValue … BytesValue), whose JSON form is their "value" field's.
func IsWrapper(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}
