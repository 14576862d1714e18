package router

// Part is one path segment of a Template as Parts reports it: a literal, or
// a "*" or "**" wildcard, and the variable it belongs to, if any.
type Part struct {
	// Literal is the segment's canonical text; empty for a wildcard.
	Literal string
	// Wildcard is "*" or "**" for a wildcard segment, empty for a literal.
	Wildcard string
	// Var is the index in Variables() of the variable whose template holds
	// the segment, or -1 for a segment outside every variable.
	Var int
}

// Parts returns the template's segments in order, for tools that describe
// routes in another notation (an OpenAPI path, a documentation page). The
// verb is not a part (see Verb). The slice is new on every call; nil for a
// nil Template. Safe for concurrent use.
func (t *Template) Parts() []Part {
	if t == nil {
		return nil
	}
	out := make([]Part, len(t.segs))
	for i, s := range t.segs {
		p := Part{Var: -1}
		switch s.kind {
		case segStar:
			p.Wildcard = "*"
		case segDoubleStar:
			p.Wildcard = "**"
		default:
			p.Literal = s.lit
		}
		for vi, v := range t.vars {
			if i >= v.start && i < v.end {
				p.Var = vi
				break
			}
		}
		out[i] = p
	}
	return out
}
