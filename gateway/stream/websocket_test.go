package stream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A close frame's reason holds 123 bytes: longer status messages are cut
// there, at a UTF-8 boundary, and marked; the last {"error": …} frame
// carries the whole Status.
func TestCloseReasonFits(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"invalid message: is required", "invalid message: is required"},
		{strings.Repeat("x", 123), strings.Repeat("x", 123)},
		{strings.Repeat("x", 200), strings.Repeat("x", 120) + "..."},
		{strings.Repeat("é", 100), strings.Repeat("é", 60) + "..."}, // 2 bytes each: 120 fit
		{"a" + strings.Repeat("é", 100), "a" + strings.Repeat("é", 59) + "..."},
	} {
		got := closeReason(tc.msg)
		if got != tc.want || len(got) > 123 || !utf8.ValidString(got) {
			t.Errorf("closeReason(%d bytes) = %q (%d bytes), want %q", len(tc.msg), got, len(got), tc.want)
		}
	}
}
