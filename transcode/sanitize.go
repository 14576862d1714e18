package transcode

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Hostile bodies. The decoders already refuse what protojson refuses
// (duplicate keys, trailing data, bad UTF-8, numbers out of range); the
// gateway adds on top a nesting bound far below protojson's 10,000 (the
// one-value check of a body bound to one field is wirejson.CheckValue),
// and a last line of defence against a panic inside protobuf-go.

// DefaultMaxDepth is the nesting bound of request bodies when
// Options.MaxDepth is 0: deep enough for any real API, shallow enough
// that a hostile body cannot make decoding expensive.
const DefaultMaxDepth = 64

func effectiveDepth(n int) int {
	if n <= 0 {
		return DefaultMaxDepth
	}
	return n
}

// depthMessage rewords protojson's (and the fast path's) recursion error
// so that the caller learns the limit it ran into.
func depthMessage(msg string, limit int) string {
	const p = "exceeded max recursion depth"
	if !strings.Contains(msg, p) {
		return msg
	}
	return strings.Replace(msg, p, fmt.Sprintf("JSON nested deeper than the limit of %d levels", limit), 1)
}

// shiftColumns moves a "(line 1:C)" position left by n columns: errors on
// a body wrapped as {"field": body} then point into the body as sent.
func shiftColumns(msg string, n int) string {
	if n == 0 {
		return msg
	}
	const p = "(line 1:"
	i := strings.Index(msg, p)
	if i < 0 {
		return msg
	}
	rest := msg[i+len(p):]
	j := strings.IndexByte(rest, ')')
	if j < 0 {
		return msg
	}
	c, err := strconv.Atoi(rest[:j])
	if err != nil || c-n < 1 {
		return msg
	}
	return msg[:i] + p + strconv.Itoa(c-n) + rest[j:]
}

// unmarshalGuarded is protojson.Unmarshal into a dynamic message, turning
// a panic inside protobuf-go (dynamicpb has had them on malformed map
// entries) into an error about the body: a client must get a 400 for a bad
// body, never a 500.
func (b *Binding) unmarshalGuarded(body []byte, m proto.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the body could not be decoded into %s: %v", m.ProtoReflect().Descriptor().FullName(), p)
		}
	}()
	return b.unmarshal.Unmarshal(body, m)
}

// gatewayOwnedKey reports metadata the gateway writes itself from the
// connection: a client's copy would let it pose as another address, host
// or scheme to the backend.
func gatewayOwnedKey(k string) bool {
	return strings.HasPrefix(k, "x-forwarded-") || k == "x-real-ip" || k == "forwarded"
}

// metadataText makes an HTTP header value a text metadata value. gRPC
// carries printable ASCII only (grpc-go refuses anything else when the call
// starts), so a value with bytes above 0x7E — UTF-8 text such as "Gjøvik" —
// is percent-encoded the way the gRPC spec encodes grpc-message: each byte
// outside 0x20-0x7E, and '%' itself, as %XX ("Gj%C3%B8vik"), which the
// backend decodes with any URL unescaper. Control bytes (CR, LF, NUL, DEL
// and the rest below 0x20) are refused: they are never text.
func metadataText(v string) (string, error) {
	if i := strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return "", fmt.Errorf("value has control byte 0x%02X at offset %d; metadata values are text (send binary data base64-encoded in a Grpc-Metadata-*-Bin header)", v[i], i)
	}
	if !strings.ContainsFunc(v, func(r rune) bool { return r > 0x7e }) { // invalid UTF-8 is U+FFFD here
		return v, nil
	}
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; c > 0x7e || c == '%' {
			fmt.Fprintf(&sb, "%%%02X", c)
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String(), nil
}
