package router

import (
	"slices"
	"strconv"
	"strings"
)

// Status is the outcome of Table.Match.
type Status uint8

const (
	// NotFound means no route matches the path under any method (HTTP 404).
	NotFound Status = iota
	// Found means a route of the requested method matches the path.
	Found
	// MethodNotAllowed means routes of other methods match the path but
	// none of the requested one: the gateway answers 405 with an Allow
	// header built from Table.Allowed.
	MethodNotAllowed
)

// String returns "NotFound", "Found" or "MethodNotAllowed".
func (s Status) String() string {
	switch s {
	case NotFound:
		return "NotFound"
	case Found:
		return "Found"
	case MethodNotAllowed:
		return "MethodNotAllowed"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Match is a successful lookup. It stays valid after the table that
// produced it is swapped out.
type Match[T any] struct {
	// Value is the Entry.Value of the route.
	Value T
	// Template is the route's template.
	Template *Template
	// Vars holds the variables' values, index by index with
	// Template.Variables(); nil when the template has none. A single-segment
	// variable is fully percent-decoded; a Multi one is decoded except for
	// "%2F" and "%2f", which stay as they are. A value that needed no
	// decoding is a substring of the path.
	Vars []string
}

// Match looks up the route for method and escapedPath: the path as it
// travelled, r.URL.EscapedPath(), without the query. It never panics.
//
// Among the routes of method, the best one wins: literal beats "*" beats
// "**", segment by segment from the left, falling back to the next-best
// alternative when a later segment does not match. "*" matches one
// non-empty segment; "**" matches zero or more segments, empty ones
// included. Literals are compared with the path's segments as escaped,
// after normalizing the spelling of escapes: "%7e" and "~" are the same
// character, "%2F" never separates segments and "%3A" never starts a verb.
//
// A ':' in the last segment starts a verb (the text after the last ':',
// or an earlier one for verbs holding a ':') when some route, of any
// method, with that verb matches the path;
// otherwise the colon is part of the segment. So with only
// "POST /v1/{name=shelves/*}:merge" and "GET /v1/{name=shelves/*}",
// "GET /v1/shelves/1:merge" is MethodNotAllowed, not a shelf named "1:merge".
//
// A path that does not start with '/', or that holds a '%' not followed by
// two hex digits, matches nothing (NotFound); net/http already refuses such
// request targets with 400 before a handler runs.
//
// When the status is not Found, the Match is the zero value. A hit on a
// template without variables allocates nothing; with variables, Match
// allocates Vars (MatchAppend does not) and any value that needed decoding. A path spelling its
// escapes in a non-canonical way ("%7e", "%2f") costs extra allocations to
// normalize them before comparing with literals. Match is safe for concurrent
// use; the Match it returns does not share memory with the table other than
// Value and Template.
func (t *Table[T]) Match(method, escapedPath string) (Match[T], Status) {
	return t.MatchAppend(method, escapedPath, nil)
}

// MatchAppend is Match with the variables' values stored in vars[:0]'s
// backing array when it has room for them, so that a caller keeping a
// buffer per request matches without allocating (a value that needed
// decoding still allocates). Match.Vars then shares that array. It is safe
// for concurrent use, with a buffer per caller.
func (t *Table[T]) MatchAppend(method, escapedPath string, vars []string) (Match[T], Status) {
	var m Match[T]
	p, escaped, ok := t.prepare(escapedPath)
	if !ok {
		return m, NotFound
	}
	mi := t.methodIndex(method)
	known := mi >= 0
	for end := len(p); ; {
		vp, vi, c := t.splitVerb(p, end)
		if vi == 0 {
			break
		}
		if known {
			w := newWalk(vp, escaped, vi, mi)
			if r := w.find(t.root, 0); r >= 0 {
				return t.hit(r, vp, escaped, vars), Found
			}
		}
		w := newWalk(vp, escaped, vi, -1)
		if w.find(t.root, 0) >= 0 {
			return m, MethodNotAllowed
		}
		end = c
	}
	if known {
		w := newWalk(p, escaped, 0, mi)
		if r := w.find(t.root, 0); r >= 0 {
			return t.hit(r, p, escaped, vars), Found
		}
	}
	w := newWalk(p, escaped, 0, -1)
	if w.find(t.root, 0) >= 0 {
		return m, MethodNotAllowed
	}
	return m, NotFound
}

// Allowed returns, sorted, the methods that have a route matching
// escapedPath, under the same rules as Match; nil when there are none. It is
// meant for the Allow header of a 405 and allocates. It is safe for
// concurrent use.
func (t *Table[T]) Allowed(escapedPath string) []string {
	p, escaped, ok := t.prepare(escapedPath)
	if !ok {
		return nil
	}
	seen := make([]bool, len(t.methods))
	w := newWalk(p, escaped, 0, -1)
	for end := len(p); ; {
		vp, vi, c := t.splitVerb(p, end)
		if vi == 0 {
			break
		}
		if vw := newWalk(vp, escaped, vi, -1); vw.find(t.root, 0) >= 0 {
			w = vw
			break
		}
		end = c
	}
	w.collect(t.root, 0, seen)
	var out []string
	for i, s := range seen {
		if s {
			out = append(out, t.methods[i]) // methods are sorted
		}
	}
	return out
}

// methodIndex returns the index of method in t.methods, or -1. Tables
// rarely have more than a handful of methods, and scanning those beats
// hashing the name.
func (t *Table[T]) methodIndex(method string) int32 {
	if len(t.methods) > linearMax {
		if i, ok := t.mindex[method]; ok {
			return i
		}
		return -1
	}
	for i, m := range t.methods {
		if m == method {
			return int32(i)
		}
	}
	return -1
}

// prepare checks escapedPath and returns it without its leading '/', and
// whether it holds any escape at all (most paths do not, and then nothing
// needs normalizing or decoding).
func (t *Table[T]) prepare(escapedPath string) (p string, escaped, ok bool) {
	if t == nil || t.root == nil || escapedPath == "" || escapedPath[0] != '/' {
		return "", false, false
	}
	p = escapedPath[1:]
	escaped = strings.IndexByte(p, '%') >= 0
	if escaped && !validEscapes(p) {
		return "", false, false
	}
	return p, escaped, true
}

// splitVerb returns p without its verb, the verb's index and the offset
// of its colon when the last segment has, before offset end, a ':' followed
// by a verb some route uses; vi is 0 otherwise. The last such colon wins;
// a caller whose walk with that verb finds nothing asks again with end at
// the colon, which only tables with verbs holding a ':' answer.
func (t *Table[T]) splitVerb(p string, end int) (vp string, vi int32, c int) {
	if len(t.verbs) == 0 || end < len(p) && !t.colonVerbs {
		return p, 0, 0
	}
	seg := strings.LastIndexByte(p, '/') + 1
	for c = end; c > seg; {
		if c = strings.LastIndexByte(p[seg:c], ':'); c < 0 {
			break
		}
		c += seg
		if vi = t.verbs[canonical(p[c+1:])]; vi > 0 {
			return p[:c], vi, c
		}
		if !t.colonVerbs {
			break
		}
	}
	return p, 0, 0
}

// hit builds the Match for route r found on the verb-less path p, with
// the variables in buf's array when it is large enough.
func (t *Table[T]) hit(r int32, p string, escaped bool, buf []string) Match[T] {
	e := &t.routes[r]
	m := Match[T]{Value: e.Value, Template: e.Template}
	vars := e.Template.vars
	if len(vars) == 0 {
		return m
	}
	m.Vars = slices.Grow(buf[:0], len(vars))[:len(vars)]
	// One pass over the segments: variables are in template order and do
	// not overlap. pos is the start of segment seg (len(p)+1 past the end).
	seg, pos := 0, 0
	for i, v := range vars {
		for ; seg < v.start && pos <= len(p); seg++ {
			pos = segEnd(p, pos) + 1
		}
		start := min(pos, len(p))
		var end int
		if e.Template.segs[v.end-1].kind == segDoubleStar {
			// "**" takes the rest of the path, however many segments.
			end = len(p)
		} else {
			for ; seg < v.end; seg++ {
				end = segEnd(p, pos)
				pos = end + 1
			}
		}
		m.Vars[i] = p[start:end]
		if escaped {
			m.Vars[i] = unescape(m.Vars[i], v.Multi)
		}
	}
	return m
}
