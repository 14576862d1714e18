package telemetry

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/policy"
)

// DefaultMaxConsumers is the default MetricsOptions.MaxConsumers.
const DefaultMaxConsumers = 1000

// OtherConsumer is the name under which the callers past
// MetricsOptions.MaxConsumers count together.
const OtherConsumer = "other"

// The kinds of caller the consumers view counts.
const (
	KindAPIKey    = "api_key"   // an API-key consumer, by its configured name
	KindJWT       = "jwt"       // a JWT subject
	KindAnonymous = "anonymous" // no credentials, or refused ones
	KindOther     = "other"     // the callers past the cap
)

// consumerCounts counts answered requests per caller. Names come from
// credentials (a JWT subject is whatever a valid token says), so at most
// max of them get counters; later ones share other. The table is an
// immutable map swapped whole on the rare insert: the request path reads
// it without a lock and allocates nothing for a caller it has seen.
// Safe for concurrent use.
type consumerCounts struct {
	max     int
	reasons []string // the rejection reasons, in the gateway's order
	table   atomic.Pointer[map[consumerKey]*consumerCounter]
	mu      sync.Mutex // serializes inserts
	anon    *consumerCounter
	other   *consumerCounter
	rates   rateWindow
}

type consumerKey struct {
	kind string // KindAPIKey or KindJWT
	name string
}

// consumerCounter is one caller's counts.
type consumerCounter struct {
	requests, clientErrors, serverErrors atomic.Uint64
	denied                               []atomic.Uint64 // by consumerCounts.reasons; the last for any other reason
}

func newConsumerCounts(max int) *consumerCounts {
	if max <= 0 {
		max = DefaultMaxConsumers
	}
	c := &consumerCounts{max: max, reasons: gateway.RejectReasons()}
	c.anon, c.other = c.newCounter(), c.newCounter()
	c.table.Store(&map[consumerKey]*consumerCounter{})
	return c
}

func (c *consumerCounts) newCounter() *consumerCounter {
	return &consumerCounter{denied: make([]atomic.Uint64, len(c.reasons)+1)}
}

// of is the counter of a caller: the API-key consumer's name, else the
// JWT subject; anon for neither.
func (c *consumerCounts) of(consumer, subject string) *consumerCounter {
	k := consumerKey{KindAPIKey, consumer}
	if consumer == "" {
		if subject == "" {
			return c.anon
		}
		k = consumerKey{KindJWT, subject}
	}
	tab := *c.table.Load()
	if e := tab[k]; e != nil {
		return e
	}
	if len(tab) >= c.max {
		return c.other
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tab = *c.table.Load()
	if e := tab[k]; e != nil {
		return e
	}
	if len(tab) >= c.max {
		return c.other
	}
	next := make(map[consumerKey]*consumerCounter, len(tab)+1)
	for kk, v := range tab {
		next[kk] = v
	}
	e := c.newCounter()
	next[k] = e
	c.table.Store(&next)
	return e
}

func (e *consumerCounter) add(status int, reason string, reasons []string) {
	e.requests.Add(1)
	switch {
	case status >= 500:
		e.serverErrors.Add(1)
	case status >= 400:
		e.clientErrors.Add(1)
	}
	if reason == "" {
		return
	}
	i := slices.Index(reasons, reason)
	if i < 0 {
		i = len(reasons)
	}
	e.denied[i].Add(1)
}

// Consumed counts one answered request under its caller
// (gateway.Observer). Request path: no lock, no allocation for a caller
// already counted.
func (m *Metrics) Consumed(consumer, subject string, status int, reason string) {
	m.consumers.of(consumer, subject).add(status, reason, m.consumers.reasons)
}

// ConsumersView is GET /admin/consumers: every caller counted since the
// process started, and every API-key consumer of the running config,
// busiest first.
type ConsumersView struct {
	Time time.Time `json:"time"`
	// MaxTracked is how many callers are counted by name; Tracked how many
	// are. Past the cap, callers count under OtherConsumer.
	MaxTracked int             `json:"max_tracked"`
	Tracked    int             `json:"tracked"`
	Consumers  []ConsumerStats `json:"consumers"`
}

// ConsumerStats is one caller's traffic and quota.
type ConsumerStats struct {
	Name string `json:"name"`
	// Kind is api_key, jwt, anonymous (no or refused credentials) or other.
	Kind         string  `json:"kind"`
	Requests     uint64  `json:"requests"`
	ClientErrors uint64  `json:"client_errors"` // 4xx
	ServerErrors uint64  `json:"server_errors"` // 5xx
	PerSecond    float64 `json:"per_second"`
	// Denied counts the requests a policy refused; Denials by policy
	// (authenticate, authorize, rate_limit …).
	Denied  uint64            `json:"denied"`
	Denials map[string]uint64 `json:"denials"`
	// Quota is the consumer's own rate limit with what is used and left
	// of it now; nil without one.
	Quota *QuotaStats `json:"quota,omitempty"`
}

// QuotaStats is a consumer's quota as its limiter holds it now (read
// without taking a token).
type QuotaStats struct {
	Rate          int     `json:"rate"`
	PeriodSeconds float64 `json:"period_seconds"`
	Burst         int     `json:"burst"`
	// Used is how much of the burst is spent and not yet refilled; Left
	// what a burst may still take now.
	Used int `json:"used"`
	Left int `json:"left"`
	// FullInSeconds is until the bucket is full again; RetryInSeconds,
	// when nothing is left, until one request is admitted.
	FullInSeconds  float64 `json:"full_in_seconds"`
	RetryInSeconds float64 `json:"retry_in_seconds,omitempty"`
	// Error says the quota store (Redis) did not answer.
	Error string `json:"error,omitempty"`
}

// Consumers gathers the consumers view: the counters, and the quotas of
// declared, the running config's API-key consumers (nil: none), read
// from their stores within ctx. Admin path. Safe for concurrent use.
func (m *Metrics) Consumers(ctx context.Context, declared *policy.Consumers) ConsumersView {
	c := m.consumers
	now := m.now()
	tab := *c.table.Load()
	out := ConsumersView{Time: now.UTC(), MaxTracked: c.max, Tracked: len(tab), Consumers: []ConsumerStats{}}
	stats := func(name, kind string, e *consumerCounter) ConsumerStats {
		cs := ConsumerStats{Name: name, Kind: kind, Denials: map[string]uint64{}}
		if e == nil {
			return cs
		}
		cs.Requests, cs.ClientErrors, cs.ServerErrors = e.requests.Load(), e.clientErrors.Load(), e.serverErrors.Load()
		for i := range e.denied {
			if v := e.denied[i].Load(); v > 0 {
				reason := "other"
				if i < len(c.reasons) {
					reason = c.reasons[i]
				}
				cs.Denials[reason] = v
				cs.Denied += v
			}
		}
		return cs
	}
	seen := map[consumerKey]bool{}
	if declared != nil {
		for _, dc := range declared.List() {
			k := consumerKey{KindAPIKey, dc.Name}
			seen[k] = true
			cs := stats(dc.Name, KindAPIKey, tab[k])
			cs.Quota = quotaStats(ctx, dc)
			out.Consumers = append(out.Consumers, cs)
		}
	}
	for k, e := range tab {
		if !seen[k] {
			out.Consumers = append(out.Consumers, stats(k.name, k.kind, e))
		}
	}
	if cs := stats(OtherConsumer, KindOther, c.other); cs.Requests > 0 {
		out.Consumers = append(out.Consumers, cs)
	}
	if cs := stats("", KindAnonymous, c.anon); cs.Requests > 0 {
		out.Consumers = append(out.Consumers, cs)
	}
	totals := make(map[string]float64, len(out.Consumers))
	for _, cs := range out.Consumers {
		totals[cs.Kind+" "+cs.Name] = float64(cs.Requests)
	}
	rates := c.rates.sample(now, totals)
	for i := range out.Consumers {
		out.Consumers[i].PerSecond = rates[out.Consumers[i].Kind+" "+out.Consumers[i].Name]
	}
	slices.SortStableFunc(out.Consumers, func(a, b ConsumerStats) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// quotaStats reads c's quota bucket; nil without a quota.
func quotaStats(ctx context.Context, c *policy.Consumer) *QuotaStats {
	if c.Quota == nil {
		return nil
	}
	q := *c.Quota
	qs := &QuotaStats{Rate: q.Rate, PeriodSeconds: q.Period.Seconds(), Burst: q.Burst}
	d, err := c.QuotaLeft(ctx)
	if err != nil {
		qs.Error = err.Error()
		return qs
	}
	qs.Left = max(d.Remaining, 0)
	qs.Used = q.Burst - qs.Left
	qs.FullInSeconds, qs.RetryInSeconds = d.ResetAfter.Seconds(), d.RetryAfter.Seconds()
	return qs
}

// consumerCollector exports the consumer counters at scrape time, so the
// request path pays for one set of counters, not two: per caller (the
// table's, at most MaxConsumers plus anonymous and other) its requests by
// outcome and its denials by policy, the ones it had.
type consumerCollector struct {
	c                *consumerCounts
	requests, denied *prometheus.Desc
}

func newConsumerCollector(c *consumerCounts) consumerCollector {
	return consumerCollector{c: c,
		requests: prometheus.NewDesc("refract_consumer_requests_total",
			"Requests answered per caller (API-key consumer, JWT subject, anonymous, or other past the cap), by outcome: ok (below 400), 4xx, 5xx.",
			[]string{"kind", "consumer", "outcome"}, nil),
		denied: prometheus.NewDesc("refract_consumer_denials_total",
			"Requests a policy refused per caller, by policy.", []string{"kind", "consumer", "policy"}, nil),
	}
}

func (cc consumerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cc.requests; ch <- cc.denied }

func (cc consumerCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(kind, name string, e *consumerCounter) {
		req, c4, c5 := e.requests.Load(), e.clientErrors.Load(), e.serverErrors.Load()
		if req == 0 {
			return
		}
		for outcome, v := range map[string]uint64{"ok": req - min(req, c4+c5), "4xx": c4, "5xx": c5} {
			ch <- prometheus.MustNewConstMetric(cc.requests, prometheus.CounterValue, float64(v), kind, name, outcome)
		}
		for i := range e.denied {
			if v := e.denied[i].Load(); v > 0 {
				reason := "other"
				if i < len(cc.c.reasons) {
					reason = cc.c.reasons[i]
				}
				ch <- prometheus.MustNewConstMetric(cc.denied, prometheus.CounterValue, float64(v), kind, name, reason)
			}
		}
	}
	for k, e := range *cc.c.table.Load() {
		emit(k.kind, k.name, e)
	}
	emit(KindOther, OtherConsumer, cc.c.other)
	emit(KindAnonymous, "", cc.c.anon)
}
