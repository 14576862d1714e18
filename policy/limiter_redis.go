package policy

import (
	"context"
	"errors"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RedisOptions configure limits shared by several gateway instances.
type RedisOptions struct {
	Addr     string
	Username string
	Password string
	DB       int
	// Prefix namespaces the keys; default "refract:rl:".
	Prefix string
	// Timeout bounds one limiter call; default 100ms, so a slow Redis
	// costs a request little before fail-open or fail-closed applies.
	Timeout time.Duration
}

// RedisLimiter keeps GCRA buckets in Redis (go-redis/redis_rate), so every
// gateway pointing at one Redis admits the limit together. Safe for
// concurrent use; Close it when done.
type RedisLimiter struct {
	client  *redis.Client
	lim     *redis_rate.Limiter
	prefix  string
	timeout time.Duration
}

// Validate reports what NewRedisLimiter would refuse in o: no addr.
func (o RedisOptions) Validate() error {
	if o.Addr == "" {
		return errors.New("policy: redis: addr is required")
	}
	return nil
}

// NewRedisLimiter validates o (see Validate) and connects lazily (the
// first Allow dials).
func NewRedisLimiter(o RedisOptions) (*RedisLimiter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Prefix == "" {
		o.Prefix = "refract:rl:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	c := redis.NewClient(&redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB,
		DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
		MaxRetries: -1, // a retry would double the latency the timeout bounds
	})
	return &RedisLimiter{client: c, lim: redis_rate.NewLimiter(c), prefix: o.Prefix, timeout: o.Timeout}, nil
}

// Allow takes one token from key's bucket in Redis.
func (l *RedisLimiter) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := l.lim.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst})
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: res.Allowed > 0, Remaining: res.Remaining, ResetAfter: res.ResetAfter}
	if !d.Allowed {
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
}

// Peek reports whether key's bucket in Redis holds a token, taking none
// (a GCRA call of cost 0).
func (l *RedisLimiter) Peek(ctx context.Context, key string, lim Limit) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := l.lim.AllowN(ctx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst}, 0)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: res.Remaining >= 1, Remaining: res.Remaining, ResetAfter: res.ResetAfter}
	if !d.Allowed {
		// The bucket is full again after ResetAfter; one token is back
		// when what is missing is burst-1 tokens.
		every := lim.Period / time.Duration(lim.Rate)
		d.RetryAfter = max(res.ResetAfter-time.Duration(lim.Burst-1)*every, time.Millisecond)
	}
	return d, nil
}

// Close closes the Redis connections.
func (l *RedisLimiter) Close() error { return l.client.Close() }
