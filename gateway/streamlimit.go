package gateway

import "sync"

// streamCounter counts the streams each client holds open per upstream, for
// streams.max_per_client. The zero value is ready; safe for concurrent use.
// A mutex is fine here: it guards two map operations per stream, not per
// message.
type streamCounter struct {
	mu   sync.Mutex
	open map[string]int // "upstream client-ip" → open streams
}

// acquire takes a slot for key unless limit (> 0) slots are taken already.
func (c *streamCounter) acquire(key string, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if limit > 0 && c.open[key] >= limit {
		return false
	}
	if c.open == nil {
		c.open = map[string]int{}
	}
	c.open[key]++
	return true
}

// release gives back a slot acquire took; the entry goes when it reaches
// zero, so the map holds only clients with open streams.
func (c *streamCounter) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key]--; c.open[key] <= 0 {
		delete(c.open, key)
	}
}
