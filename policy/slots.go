package policy

import "sync"

// Slots counts what each key (a client, a client on an upstream) holds in
// flight, against a limit. Entries go when they reach zero, so the map
// holds only active keys. The zero value is ready; safe for concurrent
// use. A mutex held for a map update is cheaper here than anything
// lock-free that would still need to delete idle keys.
type Slots[K comparable] struct {
	mu sync.Mutex
	n  map[K]int
}

// Acquire takes a slot for key unless limit (> 0) slots are taken already.
func (s *Slots[K]) Acquire(key K, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && s.n[key] >= limit {
		return false
	}
	if s.n == nil {
		s.n = map[K]int{}
	}
	s.n[key]++
	return true
}

// Release gives back a slot Acquire took.
func (s *Slots[K]) Release(key K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[key]--; s.n[key] <= 0 {
		delete(s.n, key)
	}
}
