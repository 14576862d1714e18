package library

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Page sizes, as documented on ListShelvesRequest.page_size.
const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// pageTokenPrefix versions the token format, so a token from an older format is
// rejected instead of misread.
const pageTokenPrefix = "v1:after="

// pageSize applies the documented defaults to a requested page size, recording a
// violation for a negative one.
func pageSize(requested int32, v *violations) int {
	switch {
	case requested < 0:
		v.add("page_size", "must not be negative, got %d", requested)
		return 0
	case requested == 0:
		return defaultPageSize
	case requested > maxPageSize:
		return maxPageSize
	}
	return int(requested)
}

// encodePageToken makes the opaque token that resumes a listing after the resource
// with creation sequence seq. Resuming by sequence rather than by offset keeps pages
// stable while resources are created or deleted between calls.
func encodePageToken(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + strconv.FormatInt(seq, 10)))
}

// decodePageToken returns the sequence a token resumes after; the empty token starts
// at the beginning (0). A token this server did not make is a violation.
func decodePageToken(token string, v *violations) int64 {
	if token == "" {
		return 0
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		if s, ok := strings.CutPrefix(string(raw), pageTokenPrefix); ok {
			if seq, err := strconv.ParseInt(s, 10, 64); err == nil && seq > 0 {
				return seq
			}
		}
	}
	v.add("page_token", "not a page token returned by this service")
	return 0
}
