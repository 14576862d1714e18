package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refract-gateway/refract/gateway/admin/adminclient"
)

const configUsage = `usage: refract config COMMAND [-admin URL] [-token TOKEN] [flags]

  get                        print the running config's YAML (its version on stderr)
  apply -f FILE              validate FILE, then make it the config (If-Match: the version read first)
  diff -f FILE               validate FILE and print every problem, or what it would change
  history                    list the config's versions, newest first
  rollback VERSION           make an earlier version the config again
  release -f FILE -share N   start a gray release (or -instances a,b); without -f, show the release
  promote                    make the candidate every instance's config
  abort                      return every instance to the stable config

-admin defaults to $REFRACT_ADMIN or http://127.0.0.1:9901, -token to $REFRACT_ADMIN_TOKEN.
Exit codes: 0 done, 1 refused or failed, 2 bad usage or an invalid config.
`

// configCommand is `refract config …`: the admin API's config operations,
// scriptable.
func configCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("refract config "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	adminURL := fs.String("admin", envOr("REFRACT_ADMIN", "http://127.0.0.1:9901"), "the admin API's URL")
	token := fs.String("token", os.Getenv("REFRACT_ADMIN_TOKEN"), "an admin_security token")
	file := fs.String("f", "", "the config file (apply, diff, release)")
	ifMatch := fs.String("if-match", "", "apply or roll back only if this version runs (default: the version read just before)")
	share := fs.Int("share", 0, "release: the percentage of instances that run the candidate")
	instances := fs.String("instances", "", "release: the instances that run the candidate, comma-separated")
	// Flags may come before or after the positional argument (rollback
	// VERSION -admin URL), as operators type them.
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional, rest = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	if !strings.Contains(*adminURL, "://") {
		*adminURL = "http://" + *adminURL
	}
	c := adminclient.New(*adminURL, *token)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	readFile := func() ([]byte, bool) {
		if *file == "" {
			fmt.Fprintf(stderr, "refract config %s: -f FILE is required\n", sub)
			return nil, false
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintln(stderr, "refract config:", err)
			return nil, false
		}
		return b, true
	}
	var err error
	if len(positional) > 0 && sub != "rollback" {
		fmt.Fprintf(stderr, "refract config %s: unexpected argument %q\n", sub, positional[0])
		return 2
	}
	switch sub {
	case "get":
		var cfg *adminclient.Config
		if cfg, err = c.Get(ctx); err == nil {
			fmt.Fprintf(stderr, "version %s (%s)\n", cfg.Version, cfg.Source)
			if cfg.YAML == "" { // not an admin: the effective config, secrets redacted
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(cfg.Config)
			} else {
				fmt.Fprint(stdout, cfg.YAML)
			}
		}
	case "apply":
		b, ok := readFile()
		if !ok {
			return 2
		}
		v := *ifMatch
		if v == "" {
			var cfg *adminclient.Config
			if cfg, err = c.Get(ctx); err != nil {
				break
			}
			v = cfg.Version
		}
		var res *adminclient.Result
		if res, err = c.Apply(ctx, b, v); err == nil {
			printResult(stdout, res)
		}
	case "diff":
		b, ok := readFile()
		if !ok {
			return 2
		}
		var val *adminclient.Validation
		if val, err = c.Validate(ctx, b); err == nil {
			if !val.Valid {
				for _, p := range val.Errors {
					fmt.Fprintf(stdout, "line %d: %s: %s\n", p.Line, p.Path, p.Message)
				}
				return 2
			}
			printDiff(stdout, val.Diff)
		}
	case "history":
		var hist []adminclient.Version
		if hist, err = c.History(ctx); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tAT\tWHO\tFROM\tSUMMARY")
			for _, v := range hist {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Version, v.At.Format(time.RFC3339), v.Who, v.From, v.Summary)
			}
			_ = tw.Flush()
		}
	case "rollback":
		if len(positional) != 1 {
			fmt.Fprintln(stderr, "refract config rollback: give the VERSION to roll back to (see refract config history)")
			return 2
		}
		var res *adminclient.Result
		if res, err = c.Rollback(ctx, positional[0], *ifMatch); err == nil {
			printResult(stdout, res)
		}
	case "release":
		if *file == "" {
			var rel *adminclient.Release
			if rel, err = c.Release(ctx); err == nil {
				printRelease(stdout, rel)
			}
			break
		}
		b, ok := readFile()
		if !ok {
			return 2
		}
		var names []string
		if *instances != "" {
			names = strings.Split(*instances, ",")
		}
		if err = c.StartRelease(ctx, b, *share, names); err == nil {
			fmt.Fprintln(stdout, "gray release started")
		}
	case "promote":
		var res *adminclient.Result
		if res, err = c.Promote(ctx); err == nil {
			fmt.Fprintf(stdout, "promoted %s (was %s)\n", res.Version, res.Previous)
		}
	case "abort":
		if err = c.Abort(ctx); err == nil {
			fmt.Fprintln(stdout, "gray release aborted: every instance runs the stable config")
		}
	default:
		fmt.Fprintf(stderr, "refract config: unknown command %q\n", sub)
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "refract config "+sub+":", err)
		var ae *adminclient.Error
		if errors.As(err, &ae) && ae.HTTPStatus == 400 && sub != "rollback" {
			printDetails(stderr, ae)
			return 2
		}
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func printResult(w io.Writer, res *adminclient.Result) {
	if res.Version == res.Previous {
		fmt.Fprintf(w, "unchanged: %s runs already\n", res.Version)
		return
	}
	fmt.Fprintf(w, "applied %s (was %s), %d %s\n", res.Version, res.Previous, len(res.Diff), plural(len(res.Diff), "change", "changes"))
	printDiff(w, res.Diff)
}

func printDiff(w io.Writer, diff []adminclient.Change) {
	for _, c := range diff {
		switch c.Op {
		case "added":
			fmt.Fprintf(w, "+ %s: %s\n", c.Path, compact(c.To))
		case "removed":
			fmt.Fprintf(w, "- %s: %s\n", c.Path, compact(c.From))
		default:
			fmt.Fprintf(w, "~ %s: %s → %s\n", c.Path, compact(c.From), compact(c.To))
		}
	}
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// printDetails prints the problems of a refused config, one a line.
func printDetails(w io.Writer, e *adminclient.Error) {
	for _, d := range e.Details {
		var br struct {
			FieldViolations []struct{ Field, Description string } `json:"fieldViolations"`
		}
		if json.Unmarshal(d, &br) == nil {
			for _, v := range br.FieldViolations {
				fmt.Fprintf(w, "  %s: %s\n", v.Field, v.Description)
			}
		}
	}
}

func printRelease(w io.Writer, r *adminclient.Release) {
	fmt.Fprintf(w, "stable:    %s\n", r.Stable)
	if r.Candidate == nil {
		fmt.Fprintln(w, "candidate: none (no gray release in progress)")
	} else {
		fmt.Fprintf(w, "candidate: %s (share %d%%, instances %v, started %s by %s)\n", *r.Candidate, r.Share, r.Instances,
			r.StartedAt.Format(time.RFC3339), r.Who)
	}
	fmt.Fprintf(w, "this instance: %s runs the %s config (%s)\n", r.ThisInstance.ID, r.ThisInstance.Runs, r.ThisInstance.Version)
}
