package router

import (
	"slices"
	"strings"
)

// The table is one segment trie shared by all methods: each edge consumes one
// path segment (a literal, or "*"), and "**" routes hang off the node where
// their prefix ends because "**" is always last. A node lists the routes that
// end there, each tagged with its verb and method, so one walk serves Match,
// the 405 check and Allowed. Every node carries bit masks of the methods and
// verbs found below it, which lets a walk for one method skip subtrees that
// only serve others. Sharing the trie (rather than one trie per method) keeps
// the 405 check to a second walk of the same structure and the build to one
// pass.
//
// A walk is a depth-first search trying, at each segment, the literal child,
// then "*", then "**": the first route found is the one whose
// literal/"*"/"**" sequence is best from left to right, and a dead end
// further right falls back to the next-best alternative. Literal children
// are unique per segment spelling, so the result never depends on the order
// of insertion. Each node is visited at most once per walk (its depth fixes
// the segment it looks at), so a walk is linear in the size of the trie
// however hostile the path.

type node struct {
	key    string           // the literal segment leading here (canonical)
	lits   []*node          // literal children, sorted by key
	index  map[string]*node // literal children by key, when there are many
	star   *node            // child for "*"
	end    []leaf           // routes whose template ends here
	rest   []leaf           // routes whose template ends here with "**"
	mask   uint64           // methodBit of every route below, this node included
	vmask  uint64           // verbBit of every route below, this node included
	childs map[string]*node // literal children while building
}

// leaf is one route at a node. Leaves are sorted by (verb, method), and no
// two share both: that is exactly the conflict NewTable rejects.
type leaf struct {
	verb   int32 // 0: no verb; else index+1 into the table's verbs
	method int32 // index into the table's methods
	route  int32 // index into the table's routes
}

// linearMax is the number of literal children up to which a scan of the
// sorted slice beats hashing the segment.
const linearMax = 8

// methodBit and verbBit map an index to a mask bit; indexes past 63 share
// the top bit, which makes the mask conservative, never wrong.
func methodBit(i int32) uint64 { return 1 << min(uint64(i), 63) }

func verbBit(i int32) uint64 { return 1 << min(uint64(i), 63) }

// insert adds leaf l along the shape of segs, and returns the route of the
// leaf it collides with (same verb and method), or -1.
func (n *node) insert(segs []segment, l leaf) int32 {
	for _, s := range segs {
		switch s.kind {
		case segLiteral:
			c := n.childs[s.lit]
			if c == nil {
				if n.childs == nil {
					n.childs = make(map[string]*node)
				}
				c = &node{key: s.lit}
				n.childs[s.lit] = c
			}
			n = c
		case segStar:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		case segDoubleStar:
			// The parser guarantees "**" is last.
			return addLeaf(&n.rest, l)
		}
	}
	return addLeaf(&n.end, l)
}

func addLeaf(ls *[]leaf, l leaf) int32 {
	for _, o := range *ls {
		if o.verb == l.verb && o.method == l.method {
			return o.route
		}
	}
	*ls = append(*ls, l)
	return -1
}

// freeze turns the building maps into their lookup form and computes the
// masks, bottom up.
func (n *node) freeze() {
	if len(n.childs) > 0 {
		n.lits = make([]*node, 0, len(n.childs))
		for _, c := range n.childs {
			n.lits = append(n.lits, c)
		}
		slices.SortFunc(n.lits, func(a, b *node) int { return strings.Compare(a.key, b.key) })
		if len(n.lits) > linearMax {
			n.index = n.childs
		}
	}
	n.childs = nil
	cmp := func(a, b leaf) int {
		if a.verb != b.verb {
			return int(a.verb - b.verb)
		}
		return int(a.method - b.method)
	}
	slices.SortFunc(n.end, cmp)
	slices.SortFunc(n.rest, cmp)
	for _, ls := range [][]leaf{n.end, n.rest} {
		for _, l := range ls {
			n.mask |= methodBit(l.method)
			n.vmask |= verbBit(l.verb)
		}
	}
	for _, c := range n.lits {
		c.freeze()
		n.mask |= c.mask
		n.vmask |= c.vmask
	}
	if n.star != nil {
		n.star.freeze()
		n.mask |= n.star.mask
		n.vmask |= n.star.vmask
	}
}

// child returns the literal child for a path segment, which must have valid
// escapes; escaped tells whether the path holds any '%' at all.
func (n *node) child(seg string, escaped bool) *node {
	if escaped && strings.IndexByte(seg, '%') >= 0 {
		// Rare: only a path spelled in a non-canonical way pays for this.
		seg = canonical(seg)
	}
	if n.index != nil {
		return n.index[seg]
	}
	for _, c := range n.lits {
		if c.key == seg {
			return c
		}
	}
	return nil
}

// walk is one search of the trie for one verb and method.
type walk struct {
	path    string // the escaped path without its leading '/' nor its verb
	escaped bool   // path holds a '%'
	verb    int32
	method  int32 // -1 for any method
	mbit    uint64
	vbit    uint64
}

func newWalk(path string, escaped bool, verb, method int32) walk {
	w := walk{path: path, escaped: escaped, verb: verb, method: method, mbit: ^uint64(0), vbit: verbBit(verb)}
	if method >= 0 {
		w.mbit = methodBit(method)
	}
	return w
}

// find returns the best route below n for the segments from byte pos on
// (pos > len(path) when all are consumed), or -1.
func (w *walk) find(n *node, pos int) int32 {
	if n.mask&w.mbit == 0 || n.vmask&w.vbit == 0 {
		return -1
	}
	if pos > len(w.path) {
		if r := w.pick(n.end); r >= 0 {
			return r
		}
		// "**" matches zero segments too.
		return w.pick(n.rest)
	}
	end := segEnd(w.path, pos)
	seg := w.path[pos:end]
	if len(n.lits) > 0 {
		if c := n.child(seg, w.escaped); c != nil {
			if r := w.find(c, end+1); r >= 0 {
				return r
			}
		}
	}
	// "*" never matches an empty segment: "/v1/shelves/" is not a shelf.
	if n.star != nil && seg != "" {
		if r := w.find(n.star, end+1); r >= 0 {
			return r
		}
	}
	return w.pick(n.rest)
}

func (w *walk) pick(ls []leaf) int32 {
	for _, l := range ls {
		if l.verb == w.verb && (w.method < 0 || l.method == w.method) {
			return l.route
		}
	}
	return -1
}

// collect marks in seen every method with a route below n for the segments
// from byte pos on.
func (w *walk) collect(n *node, pos int, seen []bool) {
	if n.vmask&w.vbit == 0 {
		return
	}
	mark := func(ls []leaf) {
		for _, l := range ls {
			if l.verb == w.verb {
				seen[l.method] = true
			}
		}
	}
	mark(n.rest)
	if pos > len(w.path) {
		mark(n.end)
		return
	}
	end := segEnd(w.path, pos)
	seg := w.path[pos:end]
	if len(n.lits) > 0 {
		if c := n.child(seg, w.escaped); c != nil {
			w.collect(c, end+1, seen)
		}
	}
	if n.star != nil && seg != "" {
		w.collect(n.star, end+1, seen)
	}
}

// segEnd returns the end of the segment of p that starts at pos: the offset
// of the next '/', or len(p). Segments are short, and a plain loop beats a
// call to strings.IndexByte on them.
func segEnd(p string, pos int) int {
	for ; pos < len(p); pos++ {
		if p[pos] == '/' {
			return pos
		}
	}
	return len(p)
}
