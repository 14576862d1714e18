package transform

import (
	"bytes"
	"strconv"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// appendKey appends s as a JSON string.
func appendKey(b []byte, s string) []byte { return rpcstatus.AppendJSONString(b, s) }

// renameKeys rewrites the keys of body's top-level object that renames
// name. body is valid JSON (the encoder's); anything else is returned as
// it is.
func renameKeys(body []byte, renames []keyRename) []byte {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return body
	}
	out := make([]byte, 0, len(body)+16)
	kept := 0
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			break // '}' or not an object member
		}
		end := skipString(body, i)
		if end < 0 {
			return body
		}
		for _, r := range renames {
			if bytes.Equal(body[i:end], r.from) {
				out = append(append(out, body[kept:i]...), r.to...)
				kept = end
				break
			}
		}
		i = skipSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return body
		}
		if i = skipValue(body, i+1); i < 0 {
			return body
		}
		i = skipSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i++
		}
	}
	return append(out, body[kept:]...)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'),
// -1 when it does not end.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at or after
// b[i], -1 when it does not end.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			if i = skipString(b, i); i < 0 {
				return -1
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing value
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	if depth == 0 {
		return i
	}
	return -1
}

// template is an error body with placeholders, parsed once.
type template struct {
	parts []string // literal, placeholder, literal, …
}

var placeholders = []string{"${code}", "${status}", "${message}", "${http_status}"}

// parseTemplate splits s into literals and placeholders; any other ${…}
// is an error.
func parseTemplate(s string) (*template, error) {
	t := &template{}
	for {
		i := bytes.Index([]byte(s), []byte("${"))
		if i < 0 {
			t.parts = append(t.parts, s)
			return t, nil
		}
		ph := ""
		for _, p := range placeholders {
			if len(s[i:]) >= len(p) && s[i:i+len(p)] == p {
				ph = p
			}
		}
		if ph == "" {
			return nil, &templateError{s[i:]}
		}
		t.parts = append(t.parts, s[:i], ph)
		s = s[i+len(ph):]
	}
}

type templateError struct{ at string }

func (e *templateError) Error() string {
	at := e.at
	if len(at) > 20 {
		at = at[:20] + "…"
	}
	return "unknown placeholder at " + strconv.Quote(at) + ": use ${code}, ${status}, ${message} or ${http_status}"
}

// render fills the template: ${code} and ${http_status} as numbers,
// ${status} (the code's name, NOT_FOUND) and ${message} as JSON string
// contents, escaped (write them between quotes).
func (t *template) render(code codes.Code, msg string, httpStatus int) []byte {
	out := make([]byte, 0, 128+len(msg))
	for i, p := range t.parts {
		if i%2 == 0 {
			out = append(out, p...)
			continue
		}
		switch p {
		case "${code}":
			out = strconv.AppendInt(out, int64(code), 10)
		case "${http_status}":
			out = strconv.AppendInt(out, int64(httpStatus), 10)
		case "${status}":
			out = appendEscaped(out, CodeName(code))
		case "${message}":
			out = appendEscaped(out, msg)
		}
	}
	return out
}

// appendEscaped appends s escaped as JSON string contents (no quotes).
func appendEscaped(b []byte, s string) []byte {
	q := rpcstatus.AppendJSONString(nil, s)
	return append(b, q[1:len(q)-1]...)
}
