package rpcstatus

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// ValidMetadataKey reports whether k may name gRPC metadata at all:
// non-empty, and only 0-9 a-z _ - . (gRPC's rule; upper case is not
// allowed because HTTP/2 header names are lower case). It says nothing of
// who may set the key: see ReservedMetadataKey and SettableMetadataKey.
func ValidMetadataKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ReservedMetadataKey reports keys that belong to the transport (grpc-*,
// pseudo-headers, hop-by-hop and framing headers): forwarding or setting
// them would let a caller rewrite the call's framing or deadline.
func ReservedMetadataKey(k string) bool {
	if strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") {
		return true
	}
	switch k {
	case "content-type", "content-length", "user-agent", "te", "connection", "keep-alive",
		"proxy-connection", "transfer-encoding", "upgrade", "host", "trailer",
		"proxy-authenticate", "proxy-authorization":
		return true
	}
	return false
}

// SettableMetadataKey is the rule for a key the gateway sets to a text
// value it takes from configuration or a credential (a JWT claim): a valid
// key, not reserved for the transport, and not binary ("-bin", whose
// values gRPC carries as raw bytes, which a text value is not).
func SettableMetadataKey(k string) bool {
	return ValidMetadataKey(k) && !ReservedMetadataKey(k) && !strings.HasSuffix(k, "-bin")
}

// DecodeBinaryMetadata reads the value of a "-bin" key, base64 with or
// without padding as gRPC allows.
func DecodeBinaryMetadata(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// DecodeMessage undoes the percent-encoding of a grpc-message value; a
// malformed value is kept as it came.
func DecodeMessage(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	if s, err := url.PathUnescape(v); err == nil {
		return s
	}
	return v
}
