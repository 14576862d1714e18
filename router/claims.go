package router

// Refusal is an entry Arbitrate left out: Index is its position in the
// entries given, By the position of the kept entry it collides with. Same
// is true when both have the same method and shape (the conflict NewTable
// reports), which no grant allows.
type Refusal struct {
	Index, By int
	Same      bool
}

// Arbitrate decides which entries of several owners may share one table, so
// that no owner takes or blocks another's paths unless allowed. It walks
// the entries in order (the caller puts first the ones that must win: the
// routes already served, the more trusted owners) and keeps each one unless
//
//   - a kept entry has the same method and shape, whoever owns it (the
//     conflict NewTable would report), or
//   - a kept entry of another owner Interferes with it, and
//     allow(keptOwner, owner) is false (a nil allow never allows).
//
// It returns the kept entries in order, ready for NewTable, and the
// refusals in order, each naming the first kept entry in the way. Entries
// with a nil template are kept for NewTable to report. owner gives an
// entry's owner from its value; it must not be nil.
//
// Each entry is looked up in a segment trie of every other owner's kept
// entries, so the cost grows with the overlapping candidates, not with
// the number of routes. Arbitrate is safe for concurrent use.
func Arbitrate[T any, O comparable](entries []Entry[T], owner func(T) O, allow func(kept, owner O) bool) ([]Entry[T], []Refusal) {
	kept := make([]Entry[T], 0, len(entries))
	var refused []Refusal
	shapes := make(map[string]int, len(entries)) // method + " " + shape → entry
	tries := map[O]*claimNode{}                  // owner → its kept entries
	var owners []O                               // tries' keys in order of appearance
	for i, e := range entries {
		if e.Template == nil || len(e.Template.segs) == 0 {
			kept = append(kept, e)
			continue
		}
		o := owner(e.Value)
		key := e.Method + " " + e.Template.shape()
		if k, ok := shapes[key]; ok {
			refused = append(refused, Refusal{Index: i, By: k, Same: true})
			continue
		}
		by := -1
		for _, other := range owners {
			if other == o || allow != nil && allow(other, o) {
				continue
			}
			tries[other].visit(e.Template.segs, func(k int) {
				if (by < 0 || k < by) && Interferes(entries[k].Method, entries[k].Template, e.Method, e.Template) {
					by = k
				}
			})
		}
		if by >= 0 {
			refused = append(refused, Refusal{Index: i, By: by})
			continue
		}
		shapes[key] = i
		t := tries[o]
		if t == nil {
			t = &claimNode{}
			tries[o] = t
			owners = append(owners, o)
		}
		t.add(e.Template.segs, i)
		kept = append(kept, e)
	}
	return kept, refused
}

// claimNode is a segment trie of kept entries, by index, for Arbitrate.
type claimNode struct {
	lits map[string]*claimNode
	star *claimNode
	end  []int // entries whose template ends here
	rest []int // entries whose template ends here with "**"
}

func (n *claimNode) add(segs []segment, i int) {
	for _, s := range segs {
		switch s.kind {
		case segLiteral:
			c := n.lits[s.lit]
			if c == nil {
				if n.lits == nil {
					n.lits = map[string]*claimNode{}
				}
				c = &claimNode{}
				n.lits[s.lit] = c
			}
			n = c
		case segStar:
			if n.star == nil {
				n.star = &claimNode{}
			}
			n = n.star
		case segDoubleStar:
			n.rest = append(n.rest, i)
			return
		}
	}
	n.end = append(n.end, i)
}

// visit calls f with every entry below n whose segments can match a
// sequence that q matches, verbs aside (a superset of the overlapping
// ones: the caller decides with Interferes), possibly more than once.
func (n *claimNode) visit(q []segment, f func(int)) {
	for _, i := range n.rest {
		f(i)
	}
	if len(q) == 0 {
		for _, i := range n.end {
			f(i)
		}
		return
	}
	switch q[0].kind {
	case segDoubleStar:
		n.all(f)
		return
	case segLiteral:
		if c := n.lits[q[0].lit]; c != nil {
			c.visit(q[1:], f)
		}
	case segStar:
		for _, c := range n.lits {
			c.visit(q[1:], f)
		}
	}
	if n.star != nil {
		n.star.visit(q[1:], f)
	}
}

// all calls f with every entry below n.
func (n *claimNode) all(f func(int)) {
	for _, ls := range [][]int{n.end, n.rest} {
		for _, i := range ls {
			f(i)
		}
	}
	for _, c := range n.lits {
		c.all(f)
	}
	if n.star != nil {
		n.star.all(f)
	}
}
