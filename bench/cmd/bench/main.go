// Command bench runs direct gRPC, grpc-gateway and refract side by side on
// the payload shapes of the performance issue and prints a Markdown table.
//
//	bench/run.sh [flags]      build everything, then run this with the binaries
//
// It starts the backend, grpc-gateway and refract on free loopback ports,
// each gateway pinned to one core (taskset -c 1) and the backend on the
// other (the load generator runs there too), checks every target's replies
// against what the backend must answer, then for each shape runs the three
// targets in turn, rotating the order every round (A B C, B C A, C A B …)
// so that load from elsewhere on the machine falls on all of them alike.
// Each round records requests, latencies and the gateway process's CPU time
// (utime+stime from /proc/PID/stat before and after).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	bin      string // directory holding backend, grpcgateway, refract, refractprof
	workers  int
	rounds   int
	duration time.Duration
	warmup   time.Duration
	shapes   string
	cpus     string // "gateway,backend" cores for taskset, or "" to not pin
	profile  string // write both gateways' CPU profiles in this directory (refract runs as refractprof)
	jsonOut  string
	extra    string // top-level YAML appended to refract's config
	upExtra  string // YAML keys added to refract's upstream
	fixed    string // shapes whose latency is also measured at a fixed rate
	fixedPct int    // that rate, in percent of grpc-gateway's throughput
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "directory with the built backend, grpcgateway, refract and refractprof binaries (run.sh builds them)")
	flag.IntVar(&o.workers, "workers", 32, "concurrent clients per target")
	flag.IntVar(&o.rounds, "rounds", 3, "measured rounds per shape and target (interleaved)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "length of one measured round")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load per target and shape before the rounds")
	flag.StringVar(&o.shapes, "shapes", "tiny,1KB,16KB,GET,stream", "comma-separated shapes to run")
	flag.StringVar(&o.cpus, "cpus", "1,0", "cores for gateway,backend (taskset -c); empty: do not pin")
	flag.StringVar(&o.profile, "cpuprofile", "", "write CPU profiles of both gateways (all rounds) to refract.pprof and grpc-gateway.pprof in this directory, and refract's allocations to refract.allocs")
	flag.StringVar(&o.jsonOut, "json", "", "also write the raw results as JSON to this file")
	flag.StringVar(&o.upExtra, "refract-upstream", "", "YAML keys added to the upstream of both refract configs, e.g. 'unary_transport: grpc-go'")
	flag.StringVar(&o.extra, "refract-config", "", "top-level YAML lines added to both refract configs, e.g. 'request_id: false' (to measure what a feature costs)")
	flag.StringVar(&o.fixed, "fixed-rate-shapes", "tiny,GET", "shapes whose latency is also measured at a fixed request rate (empty: none)")
	flag.IntVar(&o.fixedPct, "fixed-rate-percent", 50, "the fixed rate, in percent of grpc-gateway's throughput on the shape in this run")
	flag.Parse()
	if o.bin == "" {
		fmt.Fprintln(os.Stderr, "bench: -bin is required (use bench/run.sh)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	var gwCPU, beCPU string
	if o.cpus != "" {
		c := strings.SplitN(o.cpus, ",", 2)
		if len(c) != 2 {
			return fmt.Errorf("-cpus %q: want gateway,backend", o.cpus)
		}
		if _, err := exec.LookPath("taskset"); err != nil {
			fmt.Fprintln(os.Stderr, "bench: taskset not found; processes are not pinned")
		} else {
			gwCPU, beCPU = c[0], c[1]
		}
	}
	tmp, err := os.MkdirTemp("", "refract-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var procs []*proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()
	backend, err := start(ctx, beCPU, filepath.Join(o.bin, "backend"), "-listen", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	procs = append(procs, backend)
	ggArgs := []string{filepath.Join(o.bin, "grpcgateway"), "-listen", "127.0.0.1:0", "-backend", backend.addr}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		ggArgs = append(ggArgs, "-cpuprofile", filepath.Join(o.profile, "grpc-gateway.pprof"))
	}
	gg, err := start(ctx, gwCPU, ggArgs...)
	if err != nil {
		return fmt.Errorf("grpc-gateway: %w", err)
	}
	procs = append(procs, gg)
	rf, err := startRefract(ctx, o, gwCPU, tmp, backend.addr, true)
	if err != nil {
		return fmt.Errorf("refract: %w", err)
	}
	procs = append(procs, rf)
	rfQuiet, err := startRefract(ctx, o, gwCPU, tmp, backend.addr, false)
	if err != nil {
		return fmt.Errorf("refract (log off): %w", err)
	}
	procs = append(procs, rfQuiet)

	targets, err := newTargets(ctx, o.workers, backend, gg, rf, rfQuiet)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	shapes, err := selectShapes(o.shapes)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: backend %s (pid %d), grpc-gateway %s (pid %d), refract %s (pid %d), refract with the access log off %s (pid %d); %d workers, %d rounds of %s\n",
		backend.addr, backend.pid(), gg.addr, gg.pid(), rf.addr, rf.pid(), rfQuiet.addr, rfQuiet.pid(), o.workers, o.rounds, o.duration)

	var results []shapeResult
	for _, s := range shapes {
		res, err := runShape(ctx, o, s, targets, backend)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		results = append(results, res)
	}
	printTable(os.Stdout, o, results)
	fixed, err := runFixedRates(ctx, o, results, targets)
	if err != nil {
		return err
	}
	printFixedRates(os.Stdout, o, fixed)
	printPeakRSS(os.Stdout, targets)
	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, results); err != nil {
			return err
		}
	}
	if o.profile != "" {
		// The gateways write their profiles when they are stopped.
		rf.stop()
		gg.stop()
		fmt.Fprintf(os.Stderr, "bench: CPU profiles in %s (go tool pprof -top %s/refract.pprof)\n", o.profile, o.profile)
	}
	return nil
}

// startRefract writes refract's config for the backend and starts it (or
// refractprof, its copy that writes a CPU profile), then waits until its
// routes are up: reflection runs in the background after start.
//
// shipped is refract as a user runs it: the access log on at level info,
// written to a file (as a service manager's log collector would take it),
// the admin listener up. Otherwise the access log is off, as grpc-gateway
// writes none, and only warnings are logged. Both raise the per-client
// stream cap (all workers share one address); everything else is
// refract's default (emit_unpopulated, like grpc-gateway's default
// marshaler). Only the shipped one is profiled.
func startRefract(ctx context.Context, o options, cpu, tmp, backend string, shipped bool) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	name := "refract-quiet"
	logging := "admin: \"off\"\nlog: {level: warn}\naccess_log: {enabled: false}"
	if shipped {
		adminPort, err := freePort()
		if err != nil {
			return nil, err
		}
		name = "refract"
		logging = fmt.Sprintf("admin: 127.0.0.1:%d", adminPort)
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
%s
drain_period: 0s  # nothing balances onto the bench: stop at once
upstreams:
  - name: bench
    static: [%q]
    # The stream shape holds one stream per worker from one client address.
    streams: {max_per_client: 1024}
%s
%s
`, port, logging, backend, indent(o.upExtra, "    "), o.extra)
	path := filepath.Join(tmp, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := []string{filepath.Join(o.bin, "refract"), "-config", path}
	if o.profile != "" && shipped {
		args = []string{filepath.Join(o.bin, "refractprof"), "-config", path,
			"-cpuprofile", filepath.Join(o.profile, "refract.pprof"), "-memprofile", filepath.Join(o.profile, "refract.allocs")}
	}
	var stderr *os.File
	if shipped {
		if stderr, err = os.Create(filepath.Join(tmp, name+".log")); err != nil {
			return nil, err
		}
		defer stderr.Close() // the process holds its own descriptor
	}
	p, err := startNoAddr(ctx, cpu, stderr, args...)
	if err != nil {
		return nil, err
	}
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := probe(p.addr); err == nil {
			return p, nil
		} else if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("not serving the benchmark routes after 20s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var errNotReady = errors.New("not ready")

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
