// Package wirejson is a codec between proto3 JSON and protobuf wire bytes
// compiled from message descriptors: a Compiler turns a message type into
// a Message once, Message.AppendWire decodes a JSON document straight to
// wire bytes, and an Encoder renders wire bytes straight to JSON, each
// accepting, rejecting and producing what protojson would for the same
// input and options, without building a dynamic message. It also owns the
// small wire and JSON helpers that framing code around it needs
// (AppendFramed, AppendAtPath, AppendValue, MessageField, CheckValue,
// ParseTimestamp, ParseDuration). It is usable on its own: it knows
// nothing of HTTP, google.api.http bindings, path variables or query
// parameters, gRPC calls or buffer pools (transcode builds those around
// it), and types it does not cover (google.protobuf.Any, proto2, groups)
// are reported by the Compiler so the caller can use protojson instead.
package wirejson
