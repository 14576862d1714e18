package transform

import (
	"bytes"
	"strconv"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// appendKey appends s as a JSON string.
func appendKey(b []byte, s string) []byte { return rpcstatus.AppendJSONString(b, s) }

// jsonTree is the JSON edits of a rendered body, by key: members
// dropped, renamed or descended into (every element when the value is an
// array).
type jsonTree map[string]*jsonNode

type jsonNode struct {
	drop   bool
	rename []byte // the new key, quoted
	sub    jsonTree
}

// at is b[i], 0 past the end.
func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// editJSON applies t to body, valid JSON (the encoder's). Anything it
// cannot follow leaves body as it is.
func editJSON(body []byte, t jsonTree) []byte {
	out, _, ok := editValue(make([]byte, 0, len(body)+16), body, 0, t)
	if !ok {
		return body
	}
	return out
}

// editValue appends the JSON value at or after b[i], edited by t when it
// is an object or an array of them, and returns the index after it.
func editValue(out, b []byte, i int, t jsonTree) ([]byte, int, bool) {
	i = skipSpace(b, i)
	switch at(b, i) {
	case '{':
		return editObject(out, b, i, t)
	case '[':
		out = append(out, '[')
		i = skipSpace(b, i+1)
		for at(b, i) != ']' {
			var ok bool
			if out, i, ok = editValue(out, b, i, t); !ok {
				return nil, 0, false
			}
			if i = skipSpace(b, i); at(b, i) == ',' {
				out = append(out, ',')
				i = skipSpace(b, i+1)
			} else if at(b, i) != ']' {
				return nil, 0, false
			}
		}
		return append(out, ']'), i + 1, true
	}
	j := skipValue(b, i)
	if j < 0 {
		return nil, 0, false
	}
	return append(out, b[i:j]...), j, true
}

func editObject(out, b []byte, i int, t jsonTree) ([]byte, int, bool) {
	out = append(out, '{')
	first := true
	for i = skipSpace(b, i+1); at(b, i) != '}'; {
		if at(b, i) != '"' {
			return nil, 0, false
		}
		kEnd := skipString(b, i)
		if kEnd < 0 {
			return nil, 0, false
		}
		key := b[i:kEnd]
		v := skipSpace(b, kEnd)
		if at(b, v) != ':' {
			return nil, 0, false
		}
		v = skipSpace(b, v+1)
		node := t[string(key[1:len(key)-1])]
		switch {
		case node != nil && node.drop:
			if v = skipValue(b, v); v < 0 {
				return nil, 0, false
			}
		default:
			if !first {
				out = append(out, ',')
			}
			first = false
			if node != nil && node.rename != nil {
				key = node.rename
			}
			out = append(append(out, key...), ':')
			var sub jsonTree
			if node != nil {
				sub = node.sub
			}
			var ok bool
			if sub != nil {
				if out, v, ok = editValue(out, b, v, sub); !ok {
					return nil, 0, false
				}
			} else {
				j := skipValue(b, v)
				if j < 0 {
					return nil, 0, false
				}
				out, v = append(out, b[v:j]...), j
			}
		}
		if i = skipSpace(b, v); at(b, i) == ',' {
			i = skipSpace(b, i+1)
		} else if at(b, i) != '}' {
			return nil, 0, false
		}
	}
	return append(out, '}'), i + 1, true
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
		case ',', ' ', '\n', '\t', '\r':
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
