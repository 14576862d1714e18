package reflection

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// Subscribe registers fn to be told about descriptor changes: fn(name, snap)
// after an upstream's hash changes (including its first good fetch), and
// fn(name, nil) when it is removed. On subscription fn is first called with
// the current snapshot of every upstream that has one, so subscribing late
// misses nothing.
//
// Each subscriber has its own goroutine: calls to one fn never overlap, come
// in order per upstream, and a slow fn delays nobody else. If several changes
// of one upstream pile up while fn runs, fn gets only the latest (it always
// ends up with the current state). fn must not block long and must not call
// Close; it may call every other method.
//
// The returned function unsubscribes; it is idempotent and does not wait: a
// call of fn already running finishes, and no new one starts. After Close, fn
// is never called again and Subscribe returns a no-op.
func (c *Cache) Subscribe(fn func(upstream string, snap *Snapshot)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(c.ctx)
	s := &subscriber{
		fn:      fn,
		ctx:     ctx,
		pending: make(map[string]*Snapshot),
		wake:    make(chan struct{}, 1),
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return func() {}
	}
	c.subsMu.Lock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = s
	// Seed under subsMu: a change published concurrently is either seen here
	// or pushed after registration (and then de-duplicated by the goroutine).
	cur := *c.ups.Load()
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		if snap := cur[name].snap.Load(); snap != nil {
			s.push(name, snap)
		}
	}
	c.subsMu.Unlock()
	c.wg.Add(1)
	c.mu.Unlock()
	go s.run(&c.wg)

	var once sync.Once
	return func() {
		once.Do(func() {
			c.subsMu.Lock()
			delete(c.subs, id)
			c.subsMu.Unlock()
			cancel()
		})
	}
}

// publish queues (name, snap) for every subscriber; it never blocks on them.
func (c *Cache) publish(name string, snap *Snapshot) {
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	for _, s := range c.subs {
		s.push(name, snap)
	}
}

// subscriber is one Subscribe registration: a coalescing queue (latest
// snapshot per upstream, upstreams in arrival order) and the goroutine that
// drains it into fn.
type subscriber struct {
	fn  func(string, *Snapshot)
	ctx context.Context

	mu      sync.Mutex
	pending map[string]*Snapshot // latest per upstream; nil value: removed
	order   []string             // upstreams with a pending event, oldest first
	wake    chan struct{}        // capacity 1
}

func (s *subscriber) push(name string, snap *Snapshot) {
	s.mu.Lock()
	if _, ok := s.pending[name]; !ok {
		s.order = append(s.order, name)
	}
	s.pending[name] = snap
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) pop() (string, *Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return "", nil, false
	}
	name := s.order[0]
	s.order[0] = ""
	s.order = s.order[1:]
	snap := s.pending[name]
	delete(s.pending, name)
	return name, snap, true
}

func (s *subscriber) run(wg *sync.WaitGroup) {
	defer wg.Done()
	told := make(map[string]*Snapshot) // what fn was last told, per upstream
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		for {
			name, snap, ok := s.pop()
			if !ok {
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			if prev, known := told[name]; known && prev == snap {
				continue // already told (a seed raced with a publish)
			}
			s.fn(name, snap)
			if snap == nil {
				delete(told, name)
			} else {
				told[name] = snap
			}
		}
	}
}
