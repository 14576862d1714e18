// Package fieldmask derives the google.protobuf.FieldMask of a partial
// update (PATCH) from the keys a JSON body sets, the way grpc-gateway does,
// so that an update touches only what the client sent. It owns the rule of
// which keys become paths — messages are walked into, and so are
// google.protobuf.Struct objects and Value objects, whose keys are not
// fields but are what the client changed — and nothing of HTTP or of how
// the mask is then set on a request. Its functions are pure and safe for
// concurrent use.
package fieldmask
