package router

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Entry is one route given to NewTable.
type Entry[T any] struct {
	// Method is the HTTP method, e.g. "GET", or a custom one such as "LOCK".
	// It must be an HTTP token and is compared exactly (case-sensitively).
	Method string
	// Template is the path template; it must not be nil.
	Template *Template
	// Name describes the entry in errors and listings, e.g.
	// "library.v1.LibraryService.GetShelf". It may be empty.
	Name string
	// Value is what Match returns for this route.
	Value T
}

// Table is an immutable set of routes built by NewTable, matched with Match.
// The zero value is an empty table. A Table is safe for concurrent use; it
// is never modified after NewTable returns it.
type Table[T any] struct {
	root    *node      // nil when empty
	routes  []Entry[T] // in the order given to NewTable; leaves index it
	sorted  []Entry[T] // for Entries
	methods []string   // sorted; leaf.method indexes it
	mindex  map[string]int32
	verbs   map[string]int32 // canonical verb → leaf.verb (index+1)
	// colonVerbs: some verb holds a ':', so a path's verb may start at a
	// colon before its last.
	colonVerbs bool
}

// NewTable validates entries as a whole and builds a Table from them. It
// copies the slice; the caller may reuse it.
//
// It returns an *EntryError for an entry with a nil template or a method
// that is not an HTTP token, and a *ConflictError, naming both entries, when
// two entries have the same method and the same shape (the same sequence of
// literals, "*" and "**", and the same verb, whatever their variable names):
// such routes could never be told apart. Templates that overlap without
// being identical in shape are fine; Match picks the most specific one. An
// empty or nil slice gives an empty table.
//
// Building is linear in the total number of segments plus a sort of the
// entries (10,000 routes take a few milliseconds; see the package
// documentation). NewTable is safe for concurrent use.
func NewTable[T any](entries []Entry[T]) (*Table[T], error) {
	t := &Table[T]{routes: slices.Clone(entries)}
	for i, e := range t.routes {
		switch {
		case e.Template == nil:
			return nil, &EntryError{Entry: t.ref(i), Msg: "nil template"}
		case len(e.Template.segs) == 0:
			return nil, &EntryError{Entry: t.ref(i), Msg: "empty template (not made by ParseTemplate)"}
		case !isToken(e.Method):
			return nil, &EntryError{Entry: t.ref(i), Msg: "invalid method " + strconv.Quote(e.Method)}
		}
	}

	// Indexes follow the sorted names, not the entry order, so that the
	// trie comes out the same whatever order the entries arrive in.
	t.mindex = make(map[string]int32)
	t.verbs = make(map[string]int32)
	var verbs []string
	for _, e := range t.routes {
		if _, ok := t.mindex[e.Method]; !ok {
			t.mindex[e.Method] = 0
			t.methods = append(t.methods, e.Method)
		}
		if v := e.Template.verb; v != "" {
			if _, ok := t.verbs[v]; !ok {
				t.verbs[v] = 0
				verbs = append(verbs, v)
				t.colonVerbs = t.colonVerbs || strings.IndexByte(v, ':') >= 0
			}
		}
	}
	slices.Sort(t.methods)
	for i, m := range t.methods {
		t.mindex[m] = int32(i)
	}
	slices.Sort(verbs)
	for i, v := range verbs {
		t.verbs[v] = int32(i) + 1
	}

	root := &node{}
	var conflict *ConflictError
	for i, e := range t.routes {
		l := leaf{verb: t.verbs[e.Template.verb], method: t.mindex[e.Method], route: int32(i)}
		o := root.insert(e.Template.segs, l)
		switch {
		case o < 0:
		case conflict == nil:
			conflict = &ConflictError{First: t.ref(int(o)), Second: t.ref(i), Shape: e.Template.shape()}
		default:
			conflict.More++
		}
	}
	if conflict != nil {
		return nil, conflict
	}
	root.freeze()
	if len(t.routes) > 0 {
		t.root = root
	}

	t.sorted = slices.Clone(t.routes)
	slices.SortFunc(t.sorted, func(a, b Entry[T]) int {
		return cmp.Or(cmp.Compare(a.Template.String(), b.Template.String()), cmp.Compare(a.Method, b.Method))
	})
	return t, nil
}

func (t *Table[T]) ref(i int) EntryRef {
	e := t.routes[i]
	return EntryRef{Index: i, Method: e.Method, Template: e.Template.String(), Name: e.Name}
}

// Len returns the number of routes in the table.
func (t *Table[T]) Len() int {
	if t == nil {
		return 0
	}
	return len(t.routes)
}

// Entries returns a copy of all entries, sorted by template text and then by
// method, for listings. The order does not depend on the order given to
// NewTable.
func (t *Table[T]) Entries() []Entry[T] {
	if t == nil {
		return nil
	}
	return slices.Clone(t.sorted)
}

// Methods returns, sorted, every method that has at least one route. The
// slice is shared: callers must not modify it.
func (t *Table[T]) Methods() []string {
	if t == nil {
		return nil
	}
	return t.methods
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the syntax
// of a method name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return true
}
