package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/refract-gateway/refract/gateway"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/gateway/setup"
	"github.com/refract-gateway/refract/gateway/telemetry"
	"github.com/rs/zerolog"
)

// validate checks a config without serving it, with the validation a
// reload runs: `refract validate -config F` (a file or consul://HOST:PORT/KEY)
// prints every problem and exits 2, or says OK and exits 0.
func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("refract validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the YAML config: a file path or consul://HOST:PORT/KEY[?dc=DC]")
	if err := fs.Parse(args); err != nil {
		return helpOr2(err)
	}
	if code, ok := noArguments(fs, "refract validate", stderr); !ok {
		return code
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "refract validate: -config FILE is required")
		return 2
	}
	cfg, data, err := server.ReadConfig(context.Background(), *configPath)
	if err != nil {
		fmt.Fprintln(stderr, "refract validate:", err)
		return 2
	}
	n := len(cfg.Upstreams)
	fmt.Fprintf(stdout, "%s: OK (%d %s, version %s)\n", *configPath, n, plural(n, "upstream", "upstreams"), data.Version())
	return 0
}

// routes prints the routes a config would serve: it connects to the
// upstreams, reflects them, and lists what the route table holds, then
// what was left unrouted. Exit 1 when an upstream gave no descriptors in
// -wait.
func routes(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("refract routes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the YAML config: a file path or consul://HOST:PORT/KEY[?dc=DC]")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for every upstream's descriptors")
	if err := fs.Parse(args); err != nil {
		return helpOr2(err)
	}
	if code, ok := noArguments(fs, "refract routes", stderr); !ok {
		return code
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "refract routes: -config FILE is required")
		return 2
	}
	cfg, _, err := server.ReadConfig(context.Background(), *configPath)
	if err != nil {
		fmt.Fprintln(stderr, "refract routes:", err)
		return 2
	}
	opts, err := setup.New(cfg, setup.Extra{Logger: zerolog.Nop()})
	if err != nil {
		fmt.Fprintln(stderr, "refract routes:", err)
		return 2
	}
	gw, err := gateway.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, "refract routes:", err)
		return 2
	}
	defer gw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	code := 0
	if err := gw.WaitReady(ctx); err != nil {
		fmt.Fprintln(stderr, "refract routes:", err)
		code = 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tPATH\tUPSTREAM\tGRPC METHOD\tORIGIN")
	for _, r := range gw.Routes() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.HTTPMethod, r.Path, r.Upstream, r.GRPCMethod, r.Origin)
	}
	_ = tw.Flush()
	unrouted := gw.Unrouted()
	for _, upstream := range slices.Sorted(maps.Keys(unrouted)) {
		for _, p := range unrouted[upstream] {
			fmt.Fprintf(stdout, "not routed (%s): %s\n", upstream, p)
		}
	}
	return code
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printVersion is `refract version`: one line, exit 0.
func printVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("refract version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return helpOr2(err)
	}
	if code, ok := noArguments(fs, "refract version", stderr); !ok {
		return code
	}
	fmt.Fprintln(stdout, telemetry.ReadBuild(buildVersion, buildCommit, buildDate))
	return 0
}

// noArguments refuses positional arguments left after the flags: the flag
// package stops at the first one, so `refract -config F extra -listen X`
// would otherwise drop -listen in silence. It reports false with exit
// code 2 when there are some.
func noArguments(fs *flag.FlagSet, name string, stderr io.Writer) (int, bool) {
	if fs.NArg() == 0 {
		return 0, true
	}
	fmt.Fprintf(stderr, "%s: unexpected argument %q: flags come before arguments, and %s takes none (see -h)\n", name, fs.Arg(0), name)
	return 2, false
}

// helpOr2 is the exit code of a failed flag parse: 0 for -h, else 2.
func helpOr2(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
