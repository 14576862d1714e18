// Command refractprof is refract's serve command with a CPU profile, for
// the benchmark only (bench -refract-cpuprofile): the gateway itself has
// no profiling endpoint. It wires the same gateway.New and Run as
// cmd/refract and writes the profile when it receives SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/setup"
)

func main() {
	configPath := flag.String("config", "", "path of the YAML config file")
	profile := flag.String("cpuprofile", "refract.pprof", "where to write the CPU profile")
	memProfile := flag.String("memprofile", "", "where to write the allocation profile at exit (optional)")
	flag.Parse()
	if err := run(*configPath, *profile, *memProfile); err != nil {
		fmt.Fprintln(os.Stderr, "refractprof:", err)
		os.Exit(1)
	}
}

func run(configPath, profile, memProfile string) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	opts, err := setup.New(cfg, setup.Extra{Logger: gateway.NewLogger(cfg.Log, os.Stderr)})
	if err != nil {
		return err
	}
	gw, err := gateway.New(opts)
	if err != nil {
		return err
	}
	defer gw.Close()
	f, err := os.Create(profile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	if memProfile != "" {
		defer writeAllocs(memProfile)
	}
	pub, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var adm net.Listener
	if cfg.Admin != "off" {
		if adm, err = net.Listen("tcp", cfg.Admin); err != nil {
			pub.Close()
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gw.Serve(ctx, pub, adm)
}

// writeAllocs writes the allocations sampled since start (go tool pprof
// -sample_index=alloc_objects).
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refractprof:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "refractprof:", err)
	}
}
