package router

import "strings"

// Overlaps reports whether some request path can be matched by both a and
// b under one HTTP method: then, in one table, one of them shadows the
// other on that path (the more specific wins), and when their shapes are
// the same NewTable refuses them. Variables are ignored; "*" matches one
// non-empty segment, "**" zero or more. A template with a custom verb and
// one without overlap when the verbless one's last segment is "*" or "**"
// and the rest overlap: "/v1/{name=*}:merge" takes "/v1/x:merge" from
// "/v1/{name=*}". Templates with different verbs overlap only when one
// verb ends in ":" followed by the other ("x:get" and "get": the path
// "/a:x:get" carries either) and the template of the shorter verb ends in
// a wildcard. Overlaps is symmetric, false for nil, and safe for
// concurrent use.
func Overlaps(a, b *Template) bool {
	if a == nil || b == nil || len(a.segs) == 0 || len(b.segs) == 0 {
		return false
	}
	switch {
	case a.verb == b.verb:
		return segsOverlap(a.segs, b.segs)
	case a.verb == "":
		return verbOverlap(a.segs, b.segs)
	case b.verb == "":
		return verbOverlap(b.segs, a.segs)
	// Verbs may hold ':': a path ending ":x:get" carries the verb "x:get"
	// for one template and "get" for another, whose last segment (a
	// wildcard) then takes the "…:x".
	case strings.HasSuffix(a.verb, ":"+b.verb):
		return verbOverlap(b.segs, a.segs)
	case strings.HasSuffix(b.verb, ":"+a.verb):
		return verbOverlap(a.segs, b.segs)
	}
	return false
}

// segsOverlap reports whether one segment sequence matches both a and b.
func segsOverlap(a, b []segment) bool {
	for i := 0; ; i++ {
		if i < len(a) && a[i].kind == segDoubleStar || i < len(b) && b[i].kind == segDoubleStar {
			return true // "**" is last and takes whatever the other has left
		}
		if i == len(a) || i == len(b) {
			return len(a) == len(b)
		}
		if a[i].kind == segLiteral && b[i].kind == segLiteral && a[i].lit != b[i].lit {
			return false
		}
	}
}

// verbOverlap reports whether a path matched by the verb template v (its
// segments) can be matched by the verbless template n: the path's last
// segment then carries ":verb", which only a wildcard of n can take
// (literals cannot hold ':'). v's last segment, unless "**" (which takes
// anything), becomes a literal no literal of n equals.
func verbOverlap(n, v []segment) bool {
	if last := len(v) - 1; v[last].kind != segDoubleStar {
		v = append(v[:last:last], segment{kind: segLiteral, lit: ":"})
	}
	return segsOverlap(n, v)
}

// Interferes reports whether routes (ma, a) and (mb, b) of a table can take
// requests from each other: they overlap under the same method, or (in
// either order) one has a custom verb, the other none, and a path with
// that verb matches both. A verb route takes such a path from a verbless
// one of any method: "GET /v1/x:merge" is 405 when only
// "POST /v1/{name=*}:merge" has that verb (see Table.Match). Safe for
// concurrent use.
func Interferes(ma string, a *Template, mb string, b *Template) bool {
	if ma == mb {
		return Overlaps(a, b)
	}
	return a != nil && b != nil && (a.verb == "") != (b.verb == "") && Overlaps(a, b)
}
