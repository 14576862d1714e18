package wirejson

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads one JSON document token by token for the fast path. Its
// grammar is protojson's, byte for byte, because the fast path must accept
// and reject exactly what protojson does: whitespace is only space, tab, CR
// and LF; literals and numbers must end at a delimiter; strings must be
// valid UTF-8 with no raw control characters; a \u escape must not leave a
// lone surrogate. Errors carry protojson's "(line L:C)" positions.
type scanner struct {
	in      []byte
	pos     int
	scratch []byte // unescaped string contents, reused
}

// errUnexpectedEOF is protojson's text for a document that ends early.
var errUnexpectedEOF = errors.New("unexpected EOF")

func (s *scanner) skipWS() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\n', '\r', '\t':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.skipWS()
	if s.pos >= len(s.in) {
		return 0
	}
	return s.in[s.pos]
}

// position renders offset i as protojson does: 1-based line and rune column.
func (s *scanner) position(i int) string {
	b := s.in[:i]
	line := bytes.Count(b, []byte("\n")) + 1
	if j := bytes.LastIndexByte(b, '\n'); j >= 0 {
		b = b[j+1:]
	}
	return fmt.Sprintf("(line %d:%d)", line, utf8.RuneCount(b)+1)
}

// errAt is a semantic error at offset i: "(line 1:14): unknown field ...".
func (s *scanner) errAt(i int, format string, args ...any) error {
	return fmt.Errorf("%s: %s", s.position(i), fmt.Sprintf(format, args...))
}

// syntaxErr is a grammar error at offset i, worded as protojson words it.
func (s *scanner) syntaxErr(i int, format string, args ...any) error {
	return fmt.Errorf("syntax error %s: %s", s.position(i), fmt.Sprintf(format, args...))
}

// unexpected reports the token at the current position as out of place. At
// the end of input that is protojson's plain "unexpected EOF".
func (s *scanner) unexpected() error {
	s.skipWS()
	if s.pos >= len(s.in) {
		return errUnexpectedEOF
	}
	start := s.pos
	raw, err := s.rawToken()
	if err != nil {
		return err
	}
	s.pos = start
	return s.syntaxErr(start, "unexpected token %s", raw)
}

// rawToken reads the next token and returns its text, for error messages
// and for checking that a token is well formed before it is reported.
func (s *scanner) rawToken() (string, error) {
	s.skipWS()
	if s.pos >= len(s.in) {
		return "", errUnexpectedEOF
	}
	start := s.pos
	switch c := s.in[s.pos]; {
	case c == '"':
		if _, err := s.readString(); err != nil {
			return "", err
		}
	case c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':':
		s.pos++
	case c == 'n' || c == 't' || c == 'f':
		if !s.literal() {
			return "", s.invalidValue()
		}
	case c == '-' || c >= '0' && c <= '9':
		if _, ok := s.number(); !ok {
			return "", s.invalidValue()
		}
	default:
		return "", s.invalidValue()
	}
	return string(s.in[start:s.pos]), nil
}

// invalidValue is protojson's error for bytes that start no token.
func (s *scanner) invalidValue() error {
	end := s.pos
	for end < len(s.in) && end-s.pos < 64 {
		c := s.in[end]
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ',' || c == ':' || c == '{' || c == '}' || c == '[' || c == ']' || c == '"' {
			break
		}
		end++
	}
	if end == s.pos {
		end = s.pos + 1
	}
	tok := s.in[s.pos:end]
	if r, n := utf8.DecodeRune(s.in[s.pos:]); n > 0 && end-s.pos < n {
		tok = s.in[s.pos : s.pos+n]
		_ = r
	}
	return s.syntaxErr(s.pos, "invalid value %s", tok)
}

func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// literal consumes null, true or false at the current position.
func (s *scanner) literal() bool {
	for _, lit := range [...]string{"null", "true", "false"} {
		if bytes.HasPrefix(s.in[s.pos:], []byte(lit)) {
			end := s.pos + len(lit)
			if end < len(s.in) && isNotDelim(s.in[end]) {
				return false
			}
			s.pos = end
			return true
		}
	}
	return false
}

// number consumes a JSON number at the current position and returns its
// text (a sub-slice of the input).
func (s *scanner) number() ([]byte, bool) {
	n, ok := numberLen(s.in[s.pos:])
	if !ok {
		return nil, false
	}
	raw := s.in[s.pos : s.pos+n]
	s.pos += n
	return raw, true
}

// numberLen is protojson's number grammar (RFC 7159 with a delimiter
// check after it); it returns the length of the number at the start of in.
func numberLen(in []byte) (int, bool) {
	n := 0
	if n < len(in) && in[n] == '-' {
		n++
	}
	switch {
	case n < len(in) && in[n] == '0':
		n++
	case n < len(in) && '1' <= in[n] && in[n] <= '9':
		n++
		for n < len(in) && '0' <= in[n] && in[n] <= '9' {
			n++
		}
	default:
		return 0, false
	}
	if n+1 < len(in) && in[n] == '.' && '0' <= in[n+1] && in[n+1] <= '9' {
		n += 2
		for n < len(in) && '0' <= in[n] && in[n] <= '9' {
			n++
		}
	}
	if n+1 < len(in) && (in[n] == 'e' || in[n] == 'E') {
		n++
		if in[n] == '+' || in[n] == '-' {
			n++
			if n == len(in) {
				return 0, false
			}
		}
		for n < len(in) && '0' <= in[n] && in[n] <= '9' {
			n++
		}
	}
	if n < len(in) && isNotDelim(in[n]) {
		return 0, false
	}
	return n, true
}

// readString consumes a string token and returns its contents: a sub-slice
// of the input when it holds no escapes, else the scanner's scratch buffer
// (valid until the next readString).
func (s *scanner) readString() ([]byte, error) {
	in := s.in[s.pos+1:]
	// Fast scan: plain ASCII with no escapes is the common case.
	i := 0
	for i < len(in) {
		c := in[i]
		if c == '"' {
			out := in[:i]
			s.pos += i + 2
			return out, nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	out := append(s.scratch[:0], in[:i]...)
	in = in[i:]
	for len(in) > 0 {
		switch r, n := utf8.DecodeRune(in); {
		case r == utf8.RuneError && n == 1:
			return nil, s.syntaxErr(s.pos, "invalid UTF-8 in string")
		case r < ' ':
			return nil, s.syntaxErr(s.pos, "invalid character %q in string", r)
		case r == '"':
			s.pos = len(s.in) - len(in) + 1
			s.scratch = out
			return out, nil
		case r == '\\':
			if len(in) < 2 {
				return nil, errUnexpectedEOF
			}
			switch c := in[1]; c {
			case '"', '\\', '/':
				in, out = in[2:], append(out, c)
			case 'b':
				in, out = in[2:], append(out, '\b')
			case 'f':
				in, out = in[2:], append(out, '\f')
			case 'n':
				in, out = in[2:], append(out, '\n')
			case 'r':
				in, out = in[2:], append(out, '\r')
			case 't':
				in, out = in[2:], append(out, '\t')
			case 'u':
				if len(in) < 6 {
					return nil, errUnexpectedEOF
				}
				v, err := strconv.ParseUint(string(in[2:6]), 16, 16)
				if err != nil {
					return nil, s.syntaxErr(s.pos, "invalid escape code %q in string", in[:6])
				}
				in = in[6:]
				r := rune(v)
				if utf16.IsSurrogate(r) {
					if len(in) < 6 {
						return nil, errUnexpectedEOF
					}
					v, err := strconv.ParseUint(string(in[2:6]), 16, 16)
					r = utf16.DecodeRune(r, rune(v))
					if in[0] != '\\' || in[1] != 'u' || r == unicode.ReplacementChar || err != nil {
						return nil, s.syntaxErr(s.pos, "invalid escape code %q in string", in[:6])
					}
					in = in[6:]
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, s.syntaxErr(s.pos, "invalid escape code %q in string", in[:2])
			}
		default:
			in, out = in[n:], append(out, in[:n]...)
		}
	}
	return nil, errUnexpectedEOF
}

// expectString reads a string token, reporting anything else as unexpected.
func (s *scanner) expectString() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.unexpected()
	}
	return s.readString()
}

// objectNext moves past the separator after an object member or at the
// object's start (first reports the latter) and reports whether another
// member follows; on true the scanner is at the member's name.
func (s *scanner) objectNext(first bool) (bool, error) {
	c := s.peek()
	if c == '}' {
		s.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.unexpected()
		}
		s.pos++
		if s.peek() != '"' {
			return false, s.unexpected()
		}
	} else if c != '"' {
		return false, s.unexpected()
	}
	return true, nil
}

// colon consumes the ':' after a member name.
func (s *scanner) colon() error {
	if s.peek() != ':' {
		return s.unexpected()
	}
	s.pos++
	return nil
}

// arrayNext is objectNext for arrays; on true the scanner is at the element.
func (s *scanner) arrayNext(first bool) (bool, error) {
	c := s.peek()
	if c == ']' {
		s.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.unexpected()
		}
		s.pos++
		if c := s.peek(); c == ']' || c == ',' {
			return false, s.unexpected()
		}
	} else if c == ',' {
		return false, s.unexpected()
	}
	return true, nil
}

// skipValue consumes one whole value of any shape, checking its grammar
// and nesting depth as protojson does for an unknown field. It keeps its
// own stack of open containers so deep input costs no recursion.
func (s *scanner) skipValue(limit int) error {
	var stack []byte
	for {
		// A value is expected here.
		switch c := s.peek(); {
		case c == 0:
			return errUnexpectedEOF
		case c == '{' || c == '[':
			s.pos++
			stack = append(stack, c)
			if len(stack) > limit {
				return errors.New("exceeded max recursion depth")
			}
			var more bool
			var err error
			if c == '{' {
				more, err = s.objectNext(true)
				if err == nil && more {
					err = s.memberName()
				}
			} else {
				more, err = s.arrayNext(true)
			}
			if err != nil {
				return err
			}
			if more {
				continue
			}
			stack = stack[:len(stack)-1]
		case c == '"':
			if _, err := s.readString(); err != nil {
				return err
			}
		case c == 'n' || c == 't' || c == 'f':
			if !s.literal() {
				return s.invalidValue()
			}
		case c == '-' || c >= '0' && c <= '9':
			if _, ok := s.number(); !ok {
				return s.invalidValue()
			}
		default:
			return s.unexpected()
		}
		// A value is complete: close containers until another value is due.
		for len(stack) > 0 {
			var more bool
			var err error
			if stack[len(stack)-1] == '{' {
				more, err = s.objectNext(false)
				if err == nil && more {
					err = s.memberName()
				}
			} else {
				more, err = s.arrayNext(false)
			}
			if err != nil {
				return err
			}
			if more {
				break
			}
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return nil
		}
	}
}

// memberName consumes an object member's name and its colon.
func (s *scanner) memberName() error {
	if _, err := s.readString(); err != nil {
		return err
	}
	return s.colon()
}

// CheckValue reports whether doc is exactly one JSON value, nested no
// deeper than maxDepth arrays and objects, with nothing but whitespace
// after it; the error names the position of the first problem. Safe for
// concurrent use.
func CheckValue(doc []byte, maxDepth int) error {
	s := scanner{in: doc}
	if err := s.skipValue(maxDepth); err != nil {
		return err
	}
	if s.skipWS(); s.pos < len(s.in) {
		return s.syntaxErr(s.pos, "unexpected data after the JSON value")
	}
	return nil
}
