package router

import "strings"

// Percent-encoding, RFC 3986 §2.1. Two spellings of a path are the same
// resource when they differ only by the case of hex digits or by escaping an
// unreserved character (§6.2.2); every other escape is significant: "%2F" is
// not "/", "%3A" is not ":". Literals are compared in the canonical spelling
// (unreserved characters decoded, hex upper case) so that "%7e" and "~" match
// the same route while "%2F" never splits a segment.

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// validEscapes reports whether every '%' in s starts a %XX escape.
func validEscapes(s string) bool { return badEscape(s) < 0 }

// badEscape returns the index of the first '%' in s that does not start a
// %XX escape, or -1.
func badEscape(s string) int {
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			return i
		}
		j := strings.IndexByte(s[i+3:], '%')
		if j < 0 {
			return -1
		}
		i += 3 + j
	}
	return -1
}

// needsCanon reports whether canonical(s) differs from s. s must have valid
// escapes.
func needsCanon(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		a, b := s[i+1], s[i+2]
		if isUnreserved(unhex(a)<<4|unhex(b)) || 'a' <= a && a <= 'f' || 'a' <= b && b <= 'f' {
			return true
		}
		i += 2
	}
	return false
}

// canonical returns the canonical spelling of s, which must have valid
// escapes. It returns s itself, without allocating, when s is already
// canonical.
func canonical(s string) string {
	if !needsCanon(s) {
		return s
	}
	const upper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upper[c>>4], upper[c&15])
		}
		i += 2
	}
	return string(b)
}

// unescape decodes the escapes of s, which must be valid. With keepSlash,
// "%2F" and "%2f" stay as they are (http.proto's rule for multi-segment
// variables), so a decoded value never gains a '/' that was not a separator.
// It returns s itself, without allocating, when there is nothing to decode.
func unescape(s string, keepSlash bool) string {
	first := -1
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); i++ {
		if s[i] == '%' {
			if !keepSlash || !isEscapedSlash(s[i:]) {
				first = i
				break
			}
			i += 2
		}
	}
	if first < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:first]...)
	for i := first; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) {
			b = append(b, s[i])
			continue
		}
		if keepSlash && isEscapedSlash(s[i:]) {
			b = append(b, s[i:i+3]...)
		} else {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		}
		i += 2
	}
	return string(b)
}

func isEscapedSlash(s string) bool {
	return len(s) >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'F' || s[2] == 'f')
}

// CanonicalPath returns escapedPath (a request's r.URL.EscapedPath())
// with the escapes of unreserved characters (ALPHA, DIGIT, '-', '.', '_',
// '~') decoded, RFC 3986 §6.2.2.2: the spelling by which Match routes a
// path, literals and variables alike, so "/v1/%73helves/%32" reaches the
// route and the variables of "/v1/shelves/2". Everything that decides on
// the path (policies, an external authorizer, logs) should see this
// spelling, so that no spelling the router accepts slips past a rule
// written for another. Significant escapes stay as sent ("%2F" is not "/",
// and a "**" variable keeps "%2f" as it came, as http.proto says). A '%'
// not followed by two hex digits is a *PathError. It returns escapedPath
// itself, without allocating, when nothing needs decoding. Safe for
// concurrent use.
func CanonicalPath(escapedPath string) (string, error) {
	if i := badEscape(escapedPath); i >= 0 {
		seg, val := segmentAt(escapedPath, i)
		return "", &PathError{Segment: seg, Value: val, Reason: "'%' must start an escape of two hex digits (send '%25' for a literal '%')"}
	}
	first := -1
	for i := strings.IndexByte(escapedPath, '%'); i >= 0; {
		if isUnreserved(unhex(escapedPath[i+1])<<4 | unhex(escapedPath[i+2])) {
			first = i
			break
		}
		j := strings.IndexByte(escapedPath[i+3:], '%')
		if j < 0 {
			break
		}
		i += 3 + j
	}
	if first < 0 {
		return escapedPath, nil
	}
	b := make([]byte, 0, len(escapedPath))
	b = append(b, escapedPath[:first]...)
	for i := first; i < len(escapedPath); i++ {
		if escapedPath[i] != '%' {
			b = append(b, escapedPath[i])
			continue
		}
		if c := unhex(escapedPath[i+1])<<4 | unhex(escapedPath[i+2]); isUnreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, escapedPath[i:i+3]...)
		}
		i += 2
	}
	return string(b), nil
}
