package reflection

// FetchWaiters reports how many goroutines are inside the upstream's
// singleflight fetch (in flight or joined): it lets the collapse test release
// a gated fetch only once every caller has joined it.
func FetchWaiters(c *Cache, name string) int {
	u := c.lookup(name)
	if u == nil {
		return 0
	}
	return int(u.waiters.Load())
}
