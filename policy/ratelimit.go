package policy

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
)

// Limit admits Rate requests per Period with bursts of up to Burst
// (default Rate).
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

func (l *Limit) validate() error {
	if l.Rate <= 0 || l.Period <= 0 {
		return fmt.Errorf("rate and period must be positive (e.g. rate: 100, per: 1s)")
	}
	if l.Burst < 0 {
		return fmt.Errorf("burst must not be negative")
	}
	if l.Burst == 0 {
		l.Burst = l.Rate
	}
	return nil
}

// Decision is a limiter's answer for one request.
type Decision struct {
	Allowed    bool
	Remaining  int
	RetryAfter time.Duration // when denied: until one request is admitted
	ResetAfter time.Duration // until the bucket is full again
}

// Limiter is a store of token buckets by key. Implementations: the local
// one (one process) and the Redis one (shared by gateway instances).
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Decision, error)
	// Peek answers as Allow would, taking nothing.
	Peek(ctx context.Context, key string, l Limit) (Decision, error)
}

// KeyBy names what a rate limit counts by.
type KeyBy int

// The keys of a rate limit. Without a consumer or subject, the consumer
// and subject keys fall back to the client IP, so anonymous callers cannot
// share one unlimited bucket.
const (
	ByIP KeyBy = iota
	ByConsumer
	BySubject
	ByRoute
)

// ParseKeyBy reads "ip", "consumer", "subject" or "route".
func ParseKeyBy(s string) (KeyBy, error) {
	switch s {
	case "ip", "":
		return ByIP, nil
	case "consumer":
		return ByConsumer, nil
	case "subject":
		return BySubject, nil
	case "route":
		return ByRoute, nil
	}
	return 0, fmt.Errorf("policy: rate limit key %q is not ip, consumer, subject or route", s)
}

// Rule is one declared rate limit. A rule counts every request of every
// route it is attached to: declared globally it is one bucket per key over
// the whole gateway, on an upstream one per key over that upstream.
type Rule struct {
	// Name makes the rule's buckets its own; unique per gateway.
	Name  string
	By    KeyBy
	Limit Limit
	Store Limiter
	// FailOpen admits requests when the store fails (Redis down);
	// otherwise they get 503.
	FailOpen bool
	// IPv6Prefix is how many leading bits of an IPv6 client address key
	// its bucket (the client's network, not one of its 2^64 addresses);
	// 0 means DefaultIPv6Prefix, 128 the whole address.
	IPv6Prefix int
}

// DefaultIPv6Prefix is Rule.IPv6Prefix's default: one bucket per /64, the
// smallest network an IPv6 client is usually given.
const DefaultIPv6Prefix = 64

// RateLimitOptions are the limits of one route.
type RateLimitOptions struct {
	Rules []Rule
	// Route is the route's name ("GET /v1/shelves"), the key of ByRoute.
	Route string
	// Consumers, when set, have their own quotas counted too.
	Consumers *Consumers
	Logger    zerolog.Logger
}

// RateLimit checks every rule, then the consumer's quota. The first one
// exhausted answers 429 RESOURCE_EXHAUSTED with Retry-After; every answer
// carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset of the
// tightest limit. Nil when there is nothing to count.
func RateLimit(o RateLimitOptions) (Policy, error) {
	for i := range o.Rules {
		if err := o.Rules[i].Limit.validate(); err != nil {
			return nil, fmt.Errorf("policy: rate limit %s: %w", o.Rules[i].Name, err)
		}
		if o.Rules[i].Store == nil {
			return nil, fmt.Errorf("policy: rate limit %s: no store", o.Rules[i].Name)
		}
	}
	if o.Consumers != nil && !o.Consumers.HasQuotas() {
		o.Consumers = nil
	}
	if len(o.Rules) == 0 && o.Consumers == nil {
		return nil, nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, info := withInfo(r)
			var tight *Decision
			var tightLimit Limit
			check := func(name string, by KeyBy, l Limit, store Limiter, failOpen bool, v6 int) bool {
				key := name + "|" + limitKey(by, info, o.Route, v6)
				d, err := store.Allow(r.Context(), key, l)
				if err != nil {
					if failOpen {
						o.Logger.Warn().Err(err).Str("limit", name).Msg("rate limiter unavailable; admitting (fail-open)")
						return true
					}
					o.Logger.Error().Err(err).Str("limit", name).Msg("rate limiter unavailable; refusing (fail-closed)")
					w.Header().Set("Retry-After", "1")
					rpcstatus.WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "the rate limiter is unavailable; retry shortly")
					return false
				}
				if tight == nil || !d.Allowed || d.Remaining < tight.Remaining {
					tight, tightLimit = &d, l
				}
				if !d.Allowed {
					writeLimitHeaders(w, tightLimit, *tight)
					w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(d.RetryAfter)))
					rpcstatus.WriteStatus(w, http.StatusTooManyRequests, codes.ResourceExhausted,
						fmt.Sprintf("rate limit %s exceeded (%d per %s); retry after %ds", name, l.Rate, l.Period, ceilSeconds(d.RetryAfter)))
					return false
				}
				return true
			}
			for i := range o.Rules {
				ru := &o.Rules[i]
				if !check(ru.Name, ru.By, ru.Limit, ru.Store, ru.FailOpen, ru.IPv6Prefix) {
					return
				}
			}
			if c := info.Consumer; c != nil && c.Quota != nil && o.Consumers != nil {
				if !check("quota", ByConsumer, *c.Quota, c.quota.store, c.quota.failOpen, 0) {
					return
				}
			}
			if tight != nil {
				writeLimitHeaders(w, tightLimit, *tight)
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

func limitKey(by KeyBy, info *Info, route string, v6 int) string {
	switch by {
	case ByConsumer:
		if info.Consumer != nil {
			return "c:" + info.Consumer.Name
		}
	case BySubject:
		if info.Subject != "" {
			return "s:" + info.Subject
		}
	case ByRoute:
		return "r:" + route
	}
	ip := info.ClientIP
	if ip.Is6() && !ip.Is4In6() {
		if v6 <= 0 || v6 > 128 {
			v6 = DefaultIPv6Prefix
		}
		if p, err := ip.Prefix(v6); err == nil {
			return "ip:" + p.String()
		}
	}
	return "ip:" + ipString(info)
}

// writeLimitHeaders writes the IETF draft's RateLimit-* fields.
func writeLimitHeaders(w http.ResponseWriter, l Limit, d Decision) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(l.Burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.ResetAfter)))
	h.Set("RateLimit-Policy", strconv.Itoa(l.Rate)+";w="+strconv.Itoa(ceilSeconds(l.Period)))
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
