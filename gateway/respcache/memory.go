package respcache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store bounded by the bytes it holds: the least
// recently used entries go first, expired ones when met. Safe for
// concurrent use.
type Memory struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List // front: most recently used
	items map[string]*list.Element
	now   func() time.Time
}

type memItem struct {
	key     string
	e       *Entry
	expires time.Time
	size    int64
}

// NewMemory returns a store of at most maxBytes (default 16 MiB); now is
// its clock (nil: time.Now).
func NewMemory(maxBytes int64, now func() time.Time) *Memory {
	if maxBytes <= 0 {
		maxBytes = 16 << 20
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}, now: now}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (*Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return nil, false
	}
	it := el.Value.(*memItem)
	if !m.now().Before(it.expires) {
		m.remove(el)
		return nil, false
	}
	m.ll.MoveToFront(el)
	return it.e, true
}

// Set implements Store. An entry larger than the whole store is not kept.
func (m *Memory) Set(_ context.Context, key string, e *Entry, ttl time.Duration) {
	it := &memItem{key: key, e: e, expires: m.now().Add(ttl), size: e.size()}
	if it.size > m.max {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	m.items[key] = m.ll.PushFront(it)
	m.size += it.size
	for m.size > m.max {
		m.remove(m.ll.Back())
	}
}

// Len is the number of entries held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ll.Len()
}

func (m *Memory) remove(el *list.Element) {
	it := el.Value.(*memItem)
	m.ll.Remove(el)
	delete(m.items, it.key)
	m.size -= it.size
}
