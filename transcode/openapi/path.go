package openapi

import (
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/router"
)

// oaPath is a path template in OpenAPI's notation, where a parameter is
// one whole segment: a variable's own template ("{name=shelves/*}") is
// spelled out, its literals in the path and each wildcard a parameter of
// its own ("/v1/shelves/{shelf}").
type oaPath struct {
	path   string       // "/v1/shelves/{shelf}/books/{book}:move"
	shape  string       // the path with parameter names erased: equal shapes are one OpenAPI path
	params []oaPathPart // one per wildcard, in path order
}

// oaPathPart is one path parameter: a wildcard segment and what it fills.
type oaPathPart struct {
	name     string
	wildcard string // "*" or "**"
	// v is the index of the template variable the segment belongs to, -1
	// when none (an unbound wildcard fills no field).
	v int
	// whole is true when the segment is the variable's whole value
	// ("{name}" or "{name=*}"); otherwise the variable's value is its
	// template with every wildcard replaced.
	whole bool
}

// openAPIPath converts t. A parameter is named after the variable when it
// is the variable's whole value, else after the collection segment before
// it, made singular ("shelves/*" → "shelf"); names are unique in a path.
func openAPIPath(t *router.Template) oaPath {
	parts := t.Parts()
	vars := t.Variables()
	width := make([]int, len(vars)) // segments per variable
	for _, p := range parts {
		if p.Var >= 0 {
			width[p.Var]++
		}
	}
	var out oaPath
	var path, shape strings.Builder
	used := map[string]bool{}
	nth := make([]int, len(vars))
	for i, p := range parts {
		path.WriteByte('/')
		shape.WriteByte('/')
		if p.Wildcard == "" {
			path.WriteString(p.Literal)
			shape.WriteString(p.Literal)
			continue
		}
		// "**" and "*" hold one OpenAPI parameter each: paths that differ
		// only there would be the same path to OpenAPI.
		shape.WriteByte('*')
		pp := oaPathPart{wildcard: p.Wildcard, v: p.Var}
		var name string
		if p.Var >= 0 {
			nth[p.Var]++
			pp.whole = width[p.Var] == 1
			switch {
			case pp.whole:
				name = vars[p.Var].Path()
			case i > 0 && parts[i-1].Var == p.Var && parts[i-1].Literal != "":
				name = singular(parts[i-1].Literal)
			default:
				name = vars[p.Var].Path() + "_" + strconv.Itoa(nth[p.Var])
			}
		} else if i > 0 && parts[i-1].Literal != "" {
			name = singular(parts[i-1].Literal)
		}
		if name == "" {
			name = "segment_" + strconv.Itoa(i+1)
		}
		for base, k := name, 2; used[name]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		used[name] = true
		pp.name = name
		out.params = append(out.params, pp)
		path.WriteString("{" + name + "}")
	}
	if v := t.Verb(); v != "" {
		path.WriteString(":" + v)
		shape.WriteString(":" + v)
	}
	out.path, out.shape = path.String(), shape.String()
	return out
}

// variableTemplate spells variable v of t in OpenAPI path notation with
// the parameter names of p: "shelves/{shelf}/books/{book}".
func variableTemplate(t *router.Template, p oaPath, v int) string {
	var b strings.Builder
	k := 0
	for _, part := range t.Parts() {
		if part.Wildcard != "" {
			if part.Var == v {
				if b.Len() > 0 {
					b.WriteByte('/')
				}
				b.WriteString("{" + p.params[k].name + "}")
			}
			k++
			continue
		}
		if part.Var == v {
			if b.Len() > 0 {
				b.WriteByte('/')
			}
			b.WriteString(part.Literal)
		}
	}
	return b.String()
}

// singular makes an English collection name singular, for parameter names
// only ("shelves" → "shelf", "categories" → "category", "books" → "book");
// a name it cannot read is kept, cleaned to identifier characters.
func singular(lit string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		case r == '-' || r == '.':
			return '_'
		}
		return -1
	}, lit)
	switch {
	case len(s) > 4 && strings.HasSuffix(s, "lves"):
		return s[:len(s)-3] + "f"
	case len(s) > 3 && strings.HasSuffix(s, "ies"):
		return s[:len(s)-3] + "y"
	case len(s) > 4 && (strings.HasSuffix(s, "sses") || strings.HasSuffix(s, "shes") || strings.HasSuffix(s, "ches") || strings.HasSuffix(s, "xes")):
		return s[:len(s)-2]
	case len(s) > 1 && strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss"):
		return s[:len(s)-1]
	}
	return s
}
