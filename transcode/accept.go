package transcode

import (
	"mime"
	"strings"
)

// AcceptsJSON reports whether some media range of the Accept values
// matches application/json with a non-zero quality: */*, application/*,
// application/json or an application/…+json type. Values that do not
// parse are skipped.
func AcceptsJSON(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q := strings.TrimSpace(params["q"]); q == "0" || q == "0.0" || q == "0.00" || q == "0.000" {
				continue
			}
			switch {
			case mt == "*/*", mt == "application/*", mt == "application/json",
				strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
				return true
			}
		}
	}
	return false
}

// AcceptsTrailers reports whether the TE values say the client reads
// HTTP trailers (TE: trailers, as gRPC clients send).
func AcceptsTrailers(te []string) bool {
	for _, v := range te {
		for tok := range strings.SplitSeq(v, ",") {
			if t, _, _ := strings.Cut(strings.TrimSpace(tok), ";"); strings.EqualFold(t, "trailers") {
				return true
			}
		}
	}
	return false
}
