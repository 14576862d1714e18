package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/refract-gateway/refract/gateway/configsource"
)

// sample is the traffic counters at one time.
type sample struct {
	at               time.Time
	requests, errors uint64
}

// WatchRelease runs until ctx ends. While a gray release is in
// progress, it reports this instance's traffic over the last
// admin_security.release.window beside the release; on an instance
// running the candidate, when abort_margin is set, it aborts the release
// once the candidate instances' 5xx rate exceeds the stable instances' by
// more than the margin, both sides having at least min_requests. traffic
// returns the instance's cumulative request and 5xx counts. Sources
// without releases return at once.
func (c *Control) WatchRelease(ctx context.Context, traffic func() (requests, errors uint64)) {
	rel, ok := c.o.Source.(configsource.Releaser)
	if !ok {
		return
	}
	var samples []sample
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, cfg := c.o.Running()
		rc := cfg.AdminSecurity.Release
		window := time.Duration(rc.Window)
		interval := min(max(window/6, time.Second), 10*time.Second)
		t.Reset(interval)
		cur, _, err := rel.Release(ctx)
		if err != nil || cur == nil {
			samples = samples[:0]
			continue
		}
		now := c.o.Now()
		req, errs := traffic()
		samples = append(samples, sample{now, req, errs})
		for len(samples) > 1 && now.Sub(samples[1].at) >= window {
			samples = samples[1:]
		}
		first := samples[0]
		if req < first.requests || errs < first.errors { // counters restarted (a new config's registry)
			samples = []sample{{now, 0, 0}, samples[len(samples)-1]}
			first = samples[0]
		}
		running, _ := c.o.Running()
		st := configsource.InstanceStats{Instance: rel.Instance(), Version: running.Version(), Track: running.Track,
			Requests: req - first.requests, Errors: errs - first.errors, At: now.UTC()}
		if err := rel.PublishStats(ctx, st); err != nil {
			log := c.o.Logger()
			log.Warn().Err(err).Msg("gray release: traffic not reported")
		}
		if rc.AbortMargin <= 0 || running.Track != "candidate" || running.Version() != cur.Candidate {
			continue
		}
		all, err := rel.ReleaseStats(ctx)
		if err != nil {
			continue
		}
		var cand, stable sample
		for _, s := range all {
			if now.Sub(s.At) > 3*interval { // an instance gone quiet
				continue
			}
			side := &stable
			if s.Version == cur.Candidate {
				side = &cand
			}
			side.requests += s.Requests
			side.errors += s.Errors
		}
		minReq := uint64(rc.MinRequests)
		if cand.requests < minReq || stable.requests < minReq {
			continue
		}
		cr, sr := float64(cand.errors)/float64(cand.requests), float64(stable.errors)/float64(stable.requests)
		if cr-sr <= rc.AbortMargin {
			continue
		}
		c.abortRelease(ctx, nil, rel, AuditEntry{Who: "auto-abort", Auth: "none", From: rel.Instance(),
			Action: fmt.Sprintf("automatic abort of gray release: candidate 5xx %.1f%% of %d requests, stable %.1f%% of %d, over %s (margin %.1f points)",
				100*cr, cand.requests, 100*sr, stable.requests, window, 100*rc.AbortMargin)})
		samples = samples[:0]
	}
}
