package respcache

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every instance that uses the same Redis and
// prefix. Each operation is bounded by the client's timeouts; a failure is
// a miss (Get) or nothing kept (Set). Safe for concurrent use.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis stores entries in c under prefix (default "refract:cache:").
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "refract:cache:"
	}
	return &Redis{c: c, prefix: prefix}
}

// Get implements Store.
func (s *Redis) Get(ctx context.Context, key string) (*Entry, bool) {
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if err != nil {
		return nil, false
	}
	var e Entry
	if json.Unmarshal(b, &e) != nil || e.Status == 0 {
		return nil, false
	}
	return &e, true
}

// Set implements Store.
func (s *Redis) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	_ = s.c.Set(ctx, s.prefix+key, b, ttl).Err()
}
