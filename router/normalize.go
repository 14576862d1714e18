package router

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Path safety. The gateway matches and authorizes on the path exactly as it
// travelled (Match takes the escaped path), so no later stage can see a
// different path than the one policies saw. What remains is to refuse the
// spellings that mean different things to different parsers: dot segments
// (a proxy or backend that resolves them reaches another resource, Envoy
// CVE-2019-9901, Traefik CVE-2025-32431), escaped separators that a
// single-segment variable would decode into the value (Envoy
// CVE-2021-29492), NUL and control bytes, backslashes (which some stacks
// read as '/') and bytes that do not decode to UTF-8. Rejecting is the
// only answer that cannot be bypassed by normalizing differently.

// PathError is a request path refused before (CheckPath) or right after
// (Template.CheckEscapes) matching. It is an INVALID_ARGUMENT: the caller
// must fix the path.
type PathError struct {
	// Segment is the 1-based index of the offending segment (0: the whole
	// path).
	Segment int
	// Value is the segment as sent (escaped), cut to 64 bytes.
	Value string
	// Reason says what is wrong and what to send instead.
	Reason string
}

func (e *PathError) Error() string {
	if e.Segment == 0 {
		return "request path: " + e.Reason
	}
	return fmt.Sprintf("request path segment %d %q: %s", e.Segment, e.Value, e.Reason)
}

// GRPCStatus makes the error an INVALID_ARGUMENT status.
func (e *PathError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Error())
}

// CheckPath validates escapedPath (r.URL.EscapedPath(), starting with '/')
// before any policy or route sees it. It refuses: malformed escapes; dot
// segments ("." and ".." in any spelling: "%2e", "%2E", ".%2E", also with a
// ";param" suffix); NUL and other control characters, raw or escaped;
// raw backslashes; and paths whose decoded bytes are not UTF-8. Encoded
// '/', '\' and ';' depend on the route and are checked by
// Template.CheckEscapes after matching.
//
// A plain ASCII path without '%', '.', '\' or control bytes is accepted
// after one scan, without allocating. Safe for concurrent use.
func CheckPath(escapedPath string) *PathError {
	if escapedPath == "" || escapedPath[0] != '/' {
		return &PathError{Reason: "must start with '/'"}
	}
	suspect := false
	for i := 0; i < len(escapedPath); i++ {
		c := escapedPath[i]
		if c < 0x20 || c == 0x7f {
			seg, val := segmentAt(escapedPath, i)
			return &PathError{Segment: seg, Value: val, Reason: fmt.Sprintf("control character 0x%02X is not allowed", c)}
		}
		if c == '\\' {
			seg, val := segmentAt(escapedPath, i)
			return &PathError{Segment: seg, Value: val, Reason: "a backslash is not allowed (some servers read it as '/'); send %5C inside a '**' part of the route if it is data"}
		}
		if c == '%' || c == '.' || c >= utf8.RuneSelf {
			suspect = true
		}
	}
	if !suspect {
		return nil
	}
	p := escapedPath[1:]
	hasEscape := strings.IndexByte(p, '%') >= 0
	if i := badEscape(p); i >= 0 {
		seg, val := segmentAt(escapedPath, i+1)
		return &PathError{Segment: seg, Value: val, Reason: "'%' must start an escape of two hex digits (send '%25' for a literal '%')"}
	}
	for n, pos := 1, 0; pos <= len(p); n++ {
		end := segEnd(p, pos)
		s := p[pos:end]
		if isDotSegment(s) {
			return &PathError{Segment: n, Value: clip(s), Reason: "dot segments ('.' and '..', escaped or not) are not allowed; send the resolved path"}
		}
		if hasEscape {
			for i := strings.Index(s, "%"); i >= 0; {
				c := unhex(s[i+1])<<4 | unhex(s[i+2])
				if c < 0x20 || c == 0x7f {
					return &PathError{Segment: n, Value: clip(s), Reason: fmt.Sprintf("escaped control character %%%02X is not allowed", c)}
				}
				j := strings.IndexByte(s[i+3:], '%')
				if j < 0 {
					break
				}
				i += 3 + j
			}
		}
		if !utf8.ValidString(unescape(s, false)) {
			return &PathError{Segment: n, Value: clip(s), Reason: "the decoded segment is not valid UTF-8"}
		}
		pos = end + 1
	}
	return nil
}

// CheckEscapes reports an encoded '/', '\' or ';' (%2F, %5C, %3B, any
// case) in a segment of escapedPath that a "*" of the template matched
// (literals match only the spelling their route declares). Only "**"
// keeps such a value intact as data (http.proto keeps %2F encoded there);
// a "*" variable would decode it into the value, where a backend or a
// second proxy could read it as a separator. escapedPath is the path Match matched t with. Safe
// for concurrent use; it allocates only when it reports.
func (t *Template) CheckEscapes(escapedPath string) *PathError {
	if strings.IndexByte(escapedPath, '%') < 0 {
		return nil
	}
	free := len(t.segs) // index of the first segment "**" captures
	if n := len(t.segs); n > 0 && t.segs[n-1].kind == segDoubleStar {
		free = n - 1
	}
	p := escapedPath[1:]
	for n, pos := 0, 0; pos <= len(p) && n < free; n++ {
		end := segEnd(p, pos)
		s := p[pos:end]
		if t.segs[n].kind == segLiteral {
			// A literal matched only the spelling the route declares.
			pos = end + 1
			continue
		}
		for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
			c := unhex(s[i+1])<<4 | unhex(s[i+2])
			if what := separatorName(c); what != "" {
				return &PathError{Segment: n + 1, Value: clip(s), Reason: fmt.Sprintf(
					"an encoded %s (%s) is only allowed in a '**' part of a route; this route (%s) takes none here", what, s[i:i+3], t)}
			}
			j := strings.IndexByte(s[i+3:], '%')
			if j < 0 {
				break
			}
			i += 3 + j
		}
		pos = end + 1
	}
	return nil
}

func separatorName(c byte) string {
	switch c {
	case '/':
		return "'/'"
	case '\\':
		return "'\\'"
	case ';':
		return "';'"
	}
	return ""
}

// isDotSegment reports "." or ".." in any escaped spelling, with or
// without a ";param" suffix (Tomcat and others drop path parameters before
// resolving dots: "/..;/" is a classic bypass).
func isDotSegment(s string) bool {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	if len(s) == 0 || len(s) > 6 {
		return false
	}
	dots := 0
	for i := 0; i < len(s); {
		switch {
		case s[i] == '.':
			i++
		case i+2 < len(s) && s[i] == '%' && s[i+1] == '2' && (s[i+2] == 'e' || s[i+2] == 'E'):
			i += 3
		default:
			return false
		}
		dots++
	}
	return dots <= 2
}

// segmentAt returns the 1-based index and the text of the segment of path
// (which starts with '/') holding byte i.
func segmentAt(path string, i int) (int, string) {
	n := strings.Count(path[:i], "/")
	start := strings.LastIndexByte(path[:i], '/') + 1
	end := strings.IndexByte(path[i:], '/')
	if end < 0 {
		end = len(path)
	} else {
		end += i
	}
	if start > end {
		start = end
	}
	return max(n, 1), clip(path[start:end])
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
