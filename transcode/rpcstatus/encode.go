package rpcstatus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Resolver finds message and extension types for google.protobuf.Any
// values, such as error details: a reflection snapshot's type resolver in
// production.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// Encode renders st as google.rpc.Status JSON:
// {"code":N,"message":"...","details":[...]}, details always present (an
// empty list when there are none). Details are rendered with res (nil: the
// linked-in registry); a detail whose type res cannot resolve is rendered
// as {"@type": URL, "value": base64 bytes} instead of failing, so an
// unknown detail type never turns an error into a 500. Safe for concurrent
// use.
func Encode(st *spb.Status, res Resolver) []byte {
	return encode(st, protojson.MarshalOptions{Resolver: res})
}

// EncodeUnpopulated is Encode with each detail's fields at their zero
// value written too ("reason":"", "metadata":{}), as grpc-gateway's
// default marshaler (protojson with EmitUnpopulated) writes them: its
// clients may read the fields by presence. Safe for concurrent use.
func EncodeUnpopulated(st *spb.Status, res Resolver) []byte {
	return encode(st, protojson.MarshalOptions{Resolver: res, EmitUnpopulated: true})
}

func encode(st *spb.Status, opts protojson.MarshalOptions) []byte {
	b := make([]byte, 0, 64+len(st.GetMessage()))
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(st.GetCode()), 10)
	b = append(b, `,"message":`...)
	b = AppendJSONString(b, st.GetMessage())
	b = append(b, `,"details":[`...)
	for i, d := range st.GetDetails() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendDetail(b, d, opts)
	}
	return append(b, "]}"...)
}

func appendDetail(b []byte, d *anypb.Any, opts protojson.MarshalOptions) []byte {
	if opts.Resolver == nil {
		opts.Resolver = protoregistry.GlobalTypes // nil: the linked-in registry
	}
	if js, err := opts.Marshal(d); err == nil {
		// protojson spaces its output at random so that nobody depends on
		// its bytes; an error body is compact, the same every time.
		var c bytes.Buffer
		if json.Compact(&c, js) == nil {
			return append(b, c.Bytes()...)
		}
		return append(b, js...)
	}
	b = append(b, `{"@type":`...)
	b = AppendJSONString(b, d.GetTypeUrl())
	b = append(b, `,"value":"`...)
	b = base64.StdEncoding.AppendEncode(b, d.GetValue())
	return append(b, `"}`...)
}

// AppendJSONString appends s to b as a JSON string literal, safe to embed
// anywhere: invalid UTF-8 becomes U+FFFD, and control characters, U+2028,
// U+2029, '<', '>' and '&' are escaped, because error messages may quote
// hostile input.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r == 0x2028 || r == 0x2029 || r == '<' || r == '>' || r == '&':
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}
