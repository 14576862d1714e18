package router

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Template is a parsed google.api.http path template. The zero value and nil
// are not produced by ParseTemplate; their methods return zero results rather
// than panic. A Template is immutable and safe for concurrent use.
type Template struct {
	segs []segment
	vars []Variable
	verb string
	str  string // canonical text, built once by ParseTemplate
}

type segKind uint8

const (
	segLiteral    segKind = iota
	segStar               // "*": exactly one non-empty segment
	segDoubleStar         // "**": zero or more segments, always last
)

type segment struct {
	kind segKind
	lit  string // canonical spelling (canonical), for segLiteral
}

// Variable is one path variable of a Template, such as {book.name=shelves/*}.
// Values are shared with the Template: callers must not modify FieldPath.
type Variable struct {
	// FieldPath is the request field the variable binds, e.g. ["book", "name"].
	FieldPath []string
	// Multi is true when the variable can span more than one segment: its own
	// template has several segments or contains "**". Its matched value then
	// keeps "%2F"/"%2f" encoded (http.proto's reserved expansion); a
	// single-segment value is fully percent-decoded.
	Multi bool

	path       string // FieldPath joined with "."
	start, end int    // segments [start, end) of the template
}

// Path returns the field path joined with dots, e.g. "book.name".
func (v Variable) Path() string {
	if v.path == "" && len(v.FieldPath) > 0 {
		return strings.Join(v.FieldPath, ".")
	}
	return v.path
}

// String returns the template in canonical form, which ParseTemplate accepts
// and which parses to an equivalent template: "{name=*}" is printed "{name}",
// and percent-escapes in literals are normalized (escaped unreserved
// characters decoded, hex digits upper case). It returns "" for nil.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.str
}

// Verb returns the custom verb without its colon, "" when there is none
// (e.g. "merge" for "/v1/{name=shelves/*}:merge").
func (t *Template) Verb() string {
	if t == nil {
		return ""
	}
	return t.verb
}

// Variables returns the template's variables in template order. The slice is
// shared: callers must not modify it.
func (t *Template) Variables() []Variable {
	if t == nil {
		return nil
	}
	return t.vars
}

// shape is the template with variables erased, e.g. "/v1/shelves/*:merge":
// two templates with the same shape match exactly the same paths. Literals
// cannot contain '*' or '/', so the text is unambiguous.
func (t *Template) shape() string {
	var b strings.Builder
	for _, s := range t.segs {
		b.WriteByte('/')
		b.WriteString(s.text())
	}
	if t.verb != "" {
		b.WriteByte(':')
		b.WriteString(t.verb)
	}
	return b.String()
}

func (s segment) text() string {
	switch s.kind {
	case segStar:
		return "*"
	case segDoubleStar:
		return "**"
	default:
		return s.lit
	}
}

// ParseTemplate parses a google.api.http path template, as defined in
// google/api/http.proto:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL { ":" LITERAL } ;
//
// "{name}" means "{name=*}". "**" may only be the last segment (before the
// verb). Variables do not nest, and a field path may not be bound twice nor
// overlap another (binding both "a" and "a.b" is an error). IDENT is
// [A-Za-z_][A-Za-z0-9_]*. A LITERAL is one or more RFC 3986 path characters
// other than ':' (which starts the verb) and '*': unreserved characters,
// percent-escapes, "!$&'()+,;=" and '@'.
//
// A bad template gives a *TemplateError naming the template, the byte offset
// and what was expected. ParseTemplate is safe for concurrent use.
func ParseTemplate(tmpl string) (*Template, error) {
	p := parser{src: tmpl}
	if err := p.template(); err != nil {
		return nil, err
	}
	t := &Template{segs: p.segs, vars: p.vars, verb: p.verb}
	t.str = t.format()
	return t, nil
}

// format prints the canonical text of t.
func (t *Template) format() string {
	var b strings.Builder
	vi := 0
	for i := 0; i < len(t.segs); {
		b.WriteByte('/')
		if vi < len(t.vars) && t.vars[vi].start == i {
			v := t.vars[vi]
			vi++
			b.WriteByte('{')
			b.WriteString(v.path)
			if v.end-v.start != 1 || t.segs[v.start].kind != segStar {
				b.WriteByte('=')
				for j := v.start; j < v.end; j++ {
					if j > v.start {
						b.WriteByte('/')
					}
					b.WriteString(t.segs[j].text())
				}
			}
			b.WriteByte('}')
			i = v.end
			continue
		}
		b.WriteString(t.segs[i].text())
		i++
	}
	if t.verb != "" {
		b.WriteByte(':')
		b.WriteString(t.verb)
	}
	return b.String()
}

// parser is a recursive-descent parser over the template bytes; pos is the
// offset reported in errors.
type parser struct {
	src  string
	pos  int
	segs []segment
	vars []Variable
	verb string
}

func (p *parser) fail(off int, msg string) error {
	return &TemplateError{Template: p.src, Offset: off, Msg: msg}
}

// expected reports what the grammar wanted at the current offset and what it
// found instead.
func (p *parser) expected(what string) error {
	return p.fail(p.pos, "expected "+what+", found "+p.found(p.pos, 1))
}

// found describes the n characters at off for an error message.
func (p *parser) found(off, n int) string {
	if off >= len(p.src) {
		return "end of template"
	}
	end := off
	for ; n > 0 && end < len(p.src); n-- {
		_, size := utf8.DecodeRuneInString(p.src[end:])
		end += size
	}
	return strconv.Quote(p.src[off:end])
}

func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) lastIsDoubleStar() bool {
	return len(p.segs) > 0 && p.segs[len(p.segs)-1].kind == segDoubleStar
}

func (p *parser) template() error {
	if p.peek() != '/' {
		return p.expected(`"/"`)
	}
	p.pos++
	if err := p.segments(false); err != nil {
		return err
	}
	if p.peek() == ':' {
		p.pos++
		// A verb may itself hold ':' ("{uuid}:custom:custom", which
		// grpc-gateway routes): every colon-separated part is a literal.
		for {
			part, err := p.literal()
			if err != nil {
				return err
			}
			if part == "" {
				return p.expected("verb")
			}
			p.verb += part
			if p.peek() != ':' {
				break
			}
			p.verb += ":"
			p.pos++
		}
		if p.pos < len(p.src) {
			return p.expected("end of template")
		}
		return nil
	}
	if p.pos < len(p.src) {
		if p.lastIsDoubleStar() {
			return p.expected(`":" or end of template after "**"`)
		}
		return p.expected(`"/", ":" or end of template`)
	}
	return nil
}

// segments parses Segments and stops before the first byte that cannot
// continue them; the caller decides whether that byte is acceptable.
func (p *parser) segments(inVar bool) error {
	for {
		if err := p.segment(inVar); err != nil {
			return err
		}
		if p.peek() != '/' {
			return nil
		}
		if p.lastIsDoubleStar() {
			if inVar {
				return p.expected(`"}" after "**"`)
			}
			return p.expected(`":" or end of template after "**"`)
		}
		p.pos++
	}
}

func (p *parser) segment(inVar bool) error {
	switch p.peek() {
	case '*':
		p.pos++
		if p.peek() == '*' {
			p.pos++
			p.segs = append(p.segs, segment{kind: segDoubleStar})
		} else {
			p.segs = append(p.segs, segment{kind: segStar})
		}
		return nil
	case '{':
		if !inVar {
			return p.variable()
		}
	}
	lit, err := p.literal()
	if err != nil {
		return err
	}
	if lit == "" {
		if inVar {
			return p.expected(`literal, "*" or "**"`)
		}
		return p.expected(`literal, "*", "**" or "{"`)
	}
	p.segs = append(p.segs, segment{kind: segLiteral, lit: lit})
	return nil
}

// literal consumes a possibly empty run of literal characters and returns it
// in canonical spelling.
func (p *parser) literal() (string, error) {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '%' {
			if p.pos+2 >= len(p.src) || !ishex(p.src[p.pos+1]) || !ishex(p.src[p.pos+2]) {
				return "", p.fail(p.pos+1, `expected two hex digits after "%", found `+p.found(p.pos+1, 2))
			}
			p.pos += 3
			continue
		}
		if !isLiteralChar(c) {
			break
		}
		p.pos++
	}
	return canonical(p.src[start:p.pos]), nil
}

// isLiteralChar reports whether c may appear unescaped in a LITERAL: an
// RFC 3986 pchar except ':' (the verb separator) and '*' (wildcards).
func isLiteralChar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '+', ',', ';', '=', '@':
		return true
	}
	return false
}

func (p *parser) variable() error {
	p.pos++ // '{'
	fpStart := p.pos
	var fp []string
	for {
		id := p.ident()
		if id == "" {
			return p.expected("field name")
		}
		fp = append(fp, id)
		if p.peek() != '.' {
			break
		}
		p.pos++
	}
	path := p.src[fpStart:p.pos]
	for _, o := range p.vars {
		switch {
		case o.path == path:
			return p.fail(fpStart, "field path "+strconv.Quote(path)+" bound twice")
		case isPrefix(o.FieldPath, fp) || isPrefix(fp, o.FieldPath):
			return p.fail(fpStart, "field path "+strconv.Quote(path)+" overlaps "+strconv.Quote(o.path))
		}
	}
	start := len(p.segs)
	switch p.peek() {
	case '=':
		p.pos++
		if err := p.segments(true); err != nil {
			return err
		}
	case '}':
		p.segs = append(p.segs, segment{kind: segStar})
	default:
		return p.expected(`".", "=" or "}"`)
	}
	if p.peek() != '}' {
		if p.lastIsDoubleStar() {
			return p.expected(`"}" after "**"`)
		}
		return p.expected(`"/" or "}"`)
	}
	p.pos++
	end := len(p.segs)
	p.vars = append(p.vars, Variable{
		FieldPath: fp,
		Multi:     end-start > 1 || p.segs[end-1].kind == segDoubleStar,
		path:      path,
		start:     start,
		end:       end,
	})
	return nil
}

func (p *parser) ident() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || p.pos > start && '0' <= c && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

// isPrefix reports whether a is a proper or improper prefix of b.
func isPrefix(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Mount puts every entry's template under prefix, literal path segments
// such as "/orders" ("" leaves the entries as they are): the entry then
// matches /orders/v1/… with the same variables. It returns the mounted
// entries, in place, and a problem for each entry whose template could not
// be mounted, which it leaves out. Safe for concurrent use on distinct
// slices.
func Mount[T any](prefix string, entries []Entry[T]) ([]Entry[T], []string) {
	if prefix == "" {
		return entries, nil
	}
	var problems []string
	kept := entries[:0]
	for _, e := range entries {
		t, err := ParseTemplate(prefix + e.Template.String())
		if err != nil {
			problems = append(problems, e.Method+" "+e.Template.String()+": cannot be mounted under "+prefix+": "+err.Error())
			continue
		}
		e.Template = t
		kept = append(kept, e)
	}
	return kept, problems
}
