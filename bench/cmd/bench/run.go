package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// round is one measured run of one target on one shape.
type round struct {
	Calls   int           `json:"calls"`
	Units   int           `json:"units"`
	Elapsed time.Duration `json:"elapsed_ns"`
	GwCPU   time.Duration `json:"gateway_cpu_ns"` // 0 for direct gRPC
	BeCPU   time.Duration `json:"backend_cpu_ns"`
	lats    []time.Duration
}

// targetResult sums a target's rounds on one shape.
type targetResult struct {
	Target  string        `json:"target"`
	Rounds  []round       `json:"rounds"`
	Rate    float64       `json:"units_per_s"` // the median round's
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	CPU     time.Duration `json:"cpu_per_unit_ns"` // gateway's; backend's for direct gRPC
	BackCPU time.Duration `json:"backend_cpu_per_unit_ns"`
}

type shapeResult struct {
	Shape   string         `json:"shape"`
	Unit    string         `json:"unit"`
	Targets []targetResult `json:"targets"`
}

func runShape(ctx context.Context, o options, s *shape, targets []*target, backend *proc) (shapeResult, error) {
	res := shapeResult{Shape: s.name, Unit: s.unit}
	// Check every target's reply before loading it, then warm it up.
	for _, t := range targets {
		if _, err := t.call(ctx, s, &worker{}); err != nil {
			return res, fmt.Errorf("%s: %w", t.name, err)
		}
		if _, err := measure(ctx, t, s, o.workers, o.warmup, backend); err != nil {
			return res, fmt.Errorf("%s (warm-up): %w", t.name, err)
		}
	}
	rounds := make([][]round, len(targets))
	for r := 0; r < o.rounds; r++ {
		for k := range targets {
			i := (k + r) % len(targets) // A B C, B C A, C A B, …
			rd, err := measure(ctx, targets[i], s, o.workers, o.duration, backend)
			if err != nil {
				return res, fmt.Errorf("%s: %w", targets[i].name, err)
			}
			rounds[i] = append(rounds[i], rd)
			fmt.Fprintf(os.Stderr, "bench: %-6s round %d %-12s %10.0f %s/s\n", s.name, r+1, targets[i].name,
				float64(rd.Units)/rd.Elapsed.Seconds(), s.unit)
		}
	}
	for i, t := range targets {
		res.Targets = append(res.Targets, summarize(t, rounds[i], s))
	}
	return res, nil
}

func summarize(t *target, rounds []round, s *shape) targetResult {
	tr := targetResult{Target: t.name, Rounds: rounds}
	var units int
	var elapsed, gw, be time.Duration
	var lats []time.Duration
	for _, r := range rounds {
		units += r.Units
		elapsed += r.Elapsed
		gw += r.GwCPU
		be += r.BeCPU
		lats = append(lats, r.lats...)
	}
	slices.Sort(lats)
	// Throughput is the median round's: one round stalled by other work on
	// the machine must not decide a ratio. CPU is summed over all rounds.
	var rates []float64
	for _, r := range rounds {
		if r.Elapsed > 0 {
			rates = append(rates, float64(r.Units)/r.Elapsed.Seconds())
		}
	}
	slices.Sort(rates)
	if n := len(rates); n > 0 {
		tr.Rate = rates[n/2]
		if n%2 == 0 {
			tr.Rate = (rates[n/2-1] + rates[n/2]) / 2
		}
	}
	if units > 0 && elapsed > 0 {
		tr.BackCPU = be / time.Duration(units)
		tr.CPU = gw / time.Duration(units)
		if t.gw == nil {
			tr.CPU = tr.BackCPU
		}
	}
	tr.P50 = percentile(lats, 0.50)
	tr.P99 = percentile(lats, 0.99)
	return tr
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// measure runs workers clients against t for d and reads the CPU time of
// the gateway and the backend before and after. Any failed call fails the
// round: an error answered fast must not pass for speed.
func measure(ctx context.Context, t *target, s *shape, workers int, d time.Duration, backend *proc) (round, error) {
	var rd round
	gw0, err := cpuOf(t.gw)
	if err != nil {
		return rd, err
	}
	be0, err := backend.cpuTime()
	if err != nil {
		return rd, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := &worker{}
			var lats []time.Duration
			calls, units := 0, 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				n, err := t.call(ctx, s, w)
				if err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				lats = append(lats, time.Since(t0))
				calls++
				units += n
			}
			mu.Lock()
			rd.Calls += calls
			rd.Units += units
			rd.lats = append(rd.lats, lats...)
			mu.Unlock()
		})
	}
	wg.Wait()
	rd.Elapsed = time.Since(start)
	if firstErr != nil {
		return rd, firstErr
	}
	if err := ctx.Err(); err != nil {
		return rd, err
	}
	gw1, err := cpuOf(t.gw)
	if err != nil {
		return rd, err
	}
	be1, err := backend.cpuTime()
	if err != nil {
		return rd, err
	}
	rd.GwCPU, rd.BeCPU = gw1-gw0, be1-be0
	return rd, nil
}

func cpuOf(p *proc) (time.Duration, error) {
	if p == nil {
		return 0, nil
	}
	return p.cpuTime()
}

// printTable writes one Markdown table: per shape, each target's
// throughput (median round), latency (all calls) and CPU per unit (all
// rounds), with ratios to grpc-gateway and to
// direct gRPC. Direct gRPC has no gateway: its CPU column is the backend's
// CPU per call, the cost of serving the call itself.
func printTable(w io.Writer, o options, results []shapeResult) {
	fmt.Fprintf(w, "\n%d workers, %d interleaved rounds of %s per target and shape; gateways pinned to core %q, backend and load generator to %q. Throughput: the median round; latency: all calls; CPU: all rounds.\n\n",
		o.workers, o.rounds, o.duration, firstOf(o.cpus), secondOf(o.cpus))
	fmt.Fprintln(w, "| shape | target | throughput | × grpc-gateway | × direct | p50 | p99 | p99 × grpc-gateway | gateway CPU / unit | CPU × grpc-gateway | CPU × direct |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, sr := range results {
		direct, gg := find(sr, "direct gRPC"), find(sr, "grpc-gateway")
		for _, tr := range sr.Targets {
			cpu := fmtDur(tr.CPU)
			if tr.Target == "direct gRPC" {
				cpu = "(backend " + cpu + ")"
			}
			fmt.Fprintf(w, "| %s | %s | %s %s/s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				sr.Shape, tr.Target, fmtRate(tr.Rate), sr.Unit,
				ratio(tr.Rate, gg.Rate), ratio(tr.Rate, direct.Rate),
				fmtDur(tr.P50), fmtDur(tr.P99), ratio(float64(tr.P99), float64(gg.P99)),
				cpu, ratio(float64(tr.CPU), float64(gg.CPU)), ratio(float64(tr.CPU), float64(direct.CPU)))
		}
	}
	for _, sr := range results {
		if sr.Unit != "msg" {
			continue
		}
		for _, tr := range sr.Targets {
			if tr.Target != "direct gRPC" && tr.CPU > 0 {
				fmt.Fprintf(w, "\n%s %s: %s messages per gateway CPU-second.", sr.Shape, tr.Target, fmtRate(float64(time.Second)/float64(tr.CPU)))
			}
		}
		fmt.Fprintln(w)
	}
}

func find(sr shapeResult, name string) targetResult {
	for _, tr := range sr.Targets {
		if tr.Target == name {
			return tr
		}
	}
	return targetResult{}
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func fmtRate(r float64) string {
	n := int64(r + 0.5)
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= 10*time.Microsecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	default:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
}

func firstOf(cpus string) string {
	a, _, _ := strings.Cut(cpus, ",")
	return a
}

func secondOf(cpus string) string {
	_, b, _ := strings.Cut(cpus, ",")
	return b
}

func writeJSON(path string, results []shapeResult) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
