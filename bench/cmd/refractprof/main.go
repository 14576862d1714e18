// Command refractprof is refract's serve command with a CPU profile, for
// the benchmark only (bench -refract-cpuprofile): the gateway itself has
// no profiling endpoint. It runs the same server as cmd/refract (over the
// config file, read once) and writes the profile when it receives SIGTERM
// or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
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
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	srv, err := server.New(context.Background(), server.Options{
		Source: &configsource.Static{Name: configPath, Bytes: raw}, LogOutput: os.Stderr,
		// The benchmark stops it with one signal and waits for the profile:
		// no drain period.
		Override: func(c *config.Config) { c.DrainPeriod = config.Ptr(config.Duration(0)) }})
	if err != nil {
		return err
	}
	defer srv.Close()
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
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
