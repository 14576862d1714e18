package router

import "sync/atomic"

// Holder holds the current Table so that lookups and a swap can happen at
// the same time: Load never locks, and a reader sees either the old table or
// the new one, never a half-built one, because tables are immutable once
// NewTable returns them. The zero value is ready to use and holds an empty
// table. A Holder is safe for concurrent use and must not be copied after
// first use.
type Holder[T any] struct {
	p atomic.Pointer[Table[T]]
}

// Load returns the current table; an empty table before the first Store.
// It never returns nil and never blocks.
func (h *Holder[T]) Load() *Table[T] {
	if t := h.p.Load(); t != nil {
		return t
	}
	// Install one empty table rather than allocate one per call; if another
	// goroutine installs a table first, return that one.
	empty := &Table[T]{}
	if h.p.CompareAndSwap(nil, empty) {
		return empty
	}
	return h.p.Load()
}

// Store makes t the current table for every later Load. A nil t stores an
// empty table.
func (h *Holder[T]) Store(t *Table[T]) {
	if t == nil {
		t = &Table[T]{}
	}
	h.p.Store(t)
}

// Swap is Store that also returns the table it replaced (an empty table
// when there was none), e.g. to log what a reload changed.
func (h *Holder[T]) Swap(t *Table[T]) *Table[T] {
	if t == nil {
		t = &Table[T]{}
	}
	if old := h.p.Swap(t); old != nil {
		return old
	}
	return &Table[T]{}
}
