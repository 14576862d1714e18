package rpcstatus

import (
	"encoding/base64"
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
		b = appendDetail(b, d, res)
	}
	return append(b, "]}"...)
}

func appendDetail(b []byte, d *anypb.Any, res Resolver) []byte {
	opts := protojson.MarshalOptions{}
	if res != nil {
		opts.Resolver = res
	}
	if js, err := opts.Marshal(d); err == nil {
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
