package transcode

import (
	"encoding/base64"
	"net/http"
	"strconv"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
)

// StatusClientClosed is the HTTP status for CANCELLED (nginx's 499): the
// caller went away, so nobody reads it, but logs and metrics show why.
const StatusClientClosed = 499

// HTTPStatus maps a gRPC code to the HTTP status refract answers with. The
// table is the standard one (google.rpc.Code's documentation, as grpc-gateway
// uses); unknown codes map to 500.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return StatusClientClosed
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default: // Unknown, Internal, DataLoss and codes we do not know
		return http.StatusInternalServerError
	}
}

// EncodeStatus renders st as google.rpc.Status JSON:
// {"code":N,"message":"...","details":[...]}. Details are rendered with res
// (nil: the linked-in registry); a detail whose type res cannot resolve is
// rendered as {"@type": URL, "value": base64 bytes} instead of failing, so an
// unknown detail type never turns an error into a 500. Safe for concurrent use.
func EncodeStatus(st *spb.Status, res Resolver) []byte {
	b := make([]byte, 0, 64+len(st.GetMessage()))
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(st.GetCode()), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, st.GetMessage())
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
	b = appendJSONString(b, d.GetTypeUrl())
	b = append(b, `,"value":"`...)
	b = base64.StdEncoding.AppendEncode(b, d.GetValue())
	return append(b, `"}`...)
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD, because error messages may quote hostile input.
func appendJSONString(b []byte, s string) []byte {
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

// EncodeError renders st as EncodeStatus does, resolving details with the
// binding's resolver (the upstream's types).
func (b *Binding) EncodeError(st *spb.Status) []byte {
	return EncodeStatus(st, b.resolver)
}
