package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// fixedResult is one gateway's latency on one shape at a fixed request
// rate: the same rate for every gateway, so latency is compared at equal
// load rather than each at its own saturation.
type fixedResult struct {
	Shape    string        `json:"shape"`
	Target   string        `json:"target"`
	Rate     float64       `json:"rate_per_s"`     // asked
	Achieved float64       `json:"achieved_per_s"` // answered
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
}

// runFixedRates measures, for each shape of -fixed-rate-shapes that ran,
// every gateway's latency at -fixed-rate-percent of grpc-gateway's
// throughput on that shape in this run, in interleaved rounds.
func runFixedRates(ctx context.Context, o options, results []shapeResult, targets []*target) ([]fixedResult, error) {
	if o.fixed == "" {
		return nil, nil
	}
	shapes, err := selectShapes(o.fixed)
	if err != nil {
		return nil, err
	}
	var out []fixedResult
	for _, s := range shapes {
		var gg targetResult
		for _, sr := range results {
			if sr.Shape == s.name {
				gg = find(sr, "grpc-gateway")
			}
		}
		if gg.Rate == 0 {
			continue // the shape did not run
		}
		rate := gg.Rate * float64(o.fixedPct) / 100
		var gws []*target
		for _, t := range targets {
			if t.gw != nil {
				gws = append(gws, t)
			}
		}
		lats := make([][]time.Duration, len(gws))
		answered := make([]int, len(gws))
		var elapsed time.Duration
		for r := 0; r < o.rounds; r++ {
			for k := range gws {
				i := (k + r) % len(gws)
				l, err := measureFixed(ctx, gws[i], s, rate, 2*o.workers, o.duration)
				if err != nil {
					return nil, fmt.Errorf("%s at %.0f/s, %s: %w", s.name, rate, gws[i].name, err)
				}
				lats[i] = append(lats[i], l...)
				answered[i] += len(l)
				fmt.Fprintf(os.Stderr, "bench: %-6s fixed %.0f/s round %d %-16s p99 %s\n", s.name, rate, r+1, gws[i].name, fmtDur(percentile(sorted(l), 0.99)))
			}
			elapsed += o.duration
		}
		for i, t := range gws {
			l := sorted(lats[i])
			out = append(out, fixedResult{Shape: s.name, Target: t.name, Rate: rate,
				Achieved: float64(answered[i]) / elapsed.Seconds(), P50: percentile(l, 0.50), P99: percentile(l, 0.99)})
		}
	}
	return out, nil
}

func sorted(l []time.Duration) []time.Duration {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}

// measureFixed sends calls of s to t at rate for d, open loop: a call is
// due at its scheduled time whether or not earlier ones were answered, and
// its latency counts from then, so a gateway that falls behind shows it
// (no coordinated omission). Any failed call fails the round.
func measureFixed(ctx context.Context, t *target, s *shape, rate float64, workers int, d time.Duration) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := time.Duration(float64(time.Second) / rate)
	due := make(chan time.Time, 1<<16)
	go func() {
		defer close(due)
		start := time.Now()
		end := start.Add(d)
		next := start
		for next.Before(end) {
			now := time.Now()
			for ; !next.After(now) && next.Before(end); next = next.Add(interval) {
				select {
				case due <- next:
				case <-ctx.Done():
					return
				}
			}
			time.Sleep(time.Until(next))
		}
	}()
	var (
		mu       sync.Mutex
		lats     []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			w := &worker{}
			var mine []time.Duration
			for at := range due {
				if _, err := t.call(ctx, s, w); err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				mine = append(mine, time.Since(at))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return lats, ctx.Err()
}

func printFixedRates(w io.Writer, o options, res []fixedResult) {
	if len(res) == 0 {
		return
	}
	fmt.Fprintf(w, "\nLatency at a fixed rate, %d%% of grpc-gateway's throughput on the shape in this run (open loop: latency from each call's scheduled time), %d interleaved rounds of %s:\n\n",
		o.fixedPct, o.rounds, o.duration)
	fmt.Fprintln(w, "| shape | target | rate | answered | p50 | p99 | p99 × grpc-gateway |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, r := range res {
		var gg fixedResult
		for _, x := range res {
			if x.Shape == r.Shape && x.Target == "grpc-gateway" {
				gg = x
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s/s | %s/s | %s | %s | %s |\n", r.Shape, r.Target, fmtRate(r.Rate), fmtRate(r.Achieved),
			fmtDur(r.P50), fmtDur(r.P99), ratio(float64(r.P99), float64(gg.P99)))
	}
}

// printPeakRSS writes each gateway's peak resident memory over the whole
// run.
func printPeakRSS(w io.Writer, targets []*target) {
	fmt.Fprint(w, "\nPeak RSS over the run:")
	for _, t := range targets {
		if t.gw == nil {
			continue
		}
		rss, err := t.gw.peakRSS()
		if err != nil {
			fmt.Fprintf(w, " %s: %v;", t.name, err)
			continue
		}
		fmt.Fprintf(w, " %s %.1f MiB;", t.name, float64(rss)/(1<<20))
	}
	fmt.Fprintln(w)
}
