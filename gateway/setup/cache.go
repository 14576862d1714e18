package setup

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/respcache"
)

// caches builds upstreams' response caches: in process, or in Redis (one
// client for every shared cache, closed by release) when shared.
type caches struct {
	cfg    *config.Config
	now    func() time.Time
	client *redis.Client
}

// of returns uc's cache, nil when it has none.
func (c *caches) of(uc config.Upstream) (*respcache.Cache, error) {
	cc := uc.Cache
	if cc == nil {
		return nil, nil
	}
	var store respcache.Store = respcache.NewMemory(cc.MaxBytes, c.now)
	if cc.Shared {
		r := c.cfg.Redis
		if c.client == nil {
			var pw []byte
			if r.Password != nil {
				var err error
				if pw, err = r.Password.Read(); err != nil {
					return nil, err
				}
			}
			timeout := time.Duration(r.Timeout)
			if timeout <= 0 {
				timeout = 100 * time.Millisecond
			}
			c.client = redis.NewClient(&redis.Options{Addr: r.Addr, Username: r.Username, Password: string(pw), DB: r.DB,
				DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: -1})
		}
		prefix := r.Prefix
		if prefix == "" {
			prefix = "refract:"
		}
		store = respcache.NewRedis(c.client, prefix+"cache:"+uc.Name+":")
	}
	return respcache.New(respcache.Options{TTL: time.Duration(cc.TTL), MaxEntryBytes: cc.MaxEntryBytes, Vary: cc.Vary, Store: store}), nil
}

// release closes the Redis client, if one was made.
func (c *caches) release() {
	if c.client != nil {
		_ = c.client.Close()
	}
}
