// Command refract runs the gateway: HTTP+JSON in front of gRPC backends that
// have server reflection on.
//
//	refract -config refract.yaml   serve what the config file describes (reloaded on change and SIGHUP)
//	refract -config consul://HOST:PORT/KEY   serve a config kept in Consul KV, shared by a fleet
//	refract -demo                  start the example backends in process and serve them
//	refract validate -config F     check a config file; exit 2 with every problem
//	refract routes -config F       reflect the upstreams and print the routes F would serve
//	refract version                print the version, commit, build date and Go version (also -version)
//	refract config get|apply|diff|history|rollback|release|promote|abort -admin URL -token T
//	                               read and change a running gateway's config through its admin API
//
// Signals: SIGHUP reloads the config; SIGINT or SIGTERM drains (/readyz
// 503 for drain_period, still serving) then shuts down gracefully; a second
// one ends the drain period at once.
//
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad
// flags or an invalid config.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/gateway/server"
	"github.com/refract-gateway/refract/gateway/telemetry"
)

// Set at link time by release builds (-ldflags "-X main.buildVersion=v1.2.3
// -X main.buildCommit=… -X main.buildDate=…"); empty, the build information Go
// embeds is read instead.
var buildVersion, buildCommit, buildDate string

// usage is the synopsis -h prints above the flags.
const usage = `refract: an HTTP+JSON gateway for gRPC backends with server reflection.

Usage:
  refract -config FILE|consul://HOST:PORT/KEY [-listen ADDR] [-admin ADDR]   serve a config
  refract -demo [-listen ADDR] [-admin ADDR]      serve the example backends, in process
  refract validate -config FILE                   check a config; every problem, exit 2
  refract routes -config FILE [-wait 10s]         reflect the upstreams, print the routes
  refract config get|apply|diff|history|rollback|release|promote|abort -admin URL
                                                  read and change a running gateway's config
  refract version                                 print the version (also -version)

Subcommands take -h too. Signals: SIGHUP reloads; SIGINT/SIGTERM drain, then stop.
Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad flags, arguments or config.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return validate(args[1:], stdout, stderr)
		case "routes":
			return routes(args[1:], stdout, stderr)
		case "version":
			return printVersion(args[1:], stdout, stderr)
		case "config":
			return configCommand(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("refract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "the YAML config: a file path, or consul://HOST:PORT/KEY[?dc=DC] (token from CONSUL_HTTP_TOKEN)")
	demo := fs.Bool("demo", false, "start the example backends in process and serve them (no config file needed)")
	listen := fs.String("listen", "", "public listener host:port (overrides the config; demo default 127.0.0.1:8080)")
	admin := fs.String("admin", "", "admin listener host:port, or off (overrides the config; demo default 127.0.0.1:9901)")
	showVersion := fs.Bool("version", false, "print the version, commit, build date and Go version, and exit")
	hostname, _ := os.Hostname()
	instance := fs.String("instance-id", hostname, "this instance's name: in a gray release of a Consul KV config, it decides whether the instance runs the candidate")
	if err := fs.Parse(args); err != nil {
		return helpOr2(err)
	}
	if code, ok := noArguments(fs, "refract", stderr); !ok {
		return code
	}
	if *showVersion {
		fmt.Fprintln(stdout, telemetry.ReadBuild(buildVersion, buildCommit, buildDate))
		return 0
	}
	if *demo == (*configPath != "") {
		fmt.Fprintln(stderr, "refract: give exactly one of -config FILE or -demo")
		fs.Usage()
		return 2
	}

	var src configsource.Source
	var err error
	if *demo {
		data, cleanup, err := demoConfig()
		if err != nil {
			fmt.Fprintln(stderr, "refract:", err)
			return 1
		}
		defer cleanup()
		src = &configsource.Static{Name: "demo", Bytes: data}
	} else if src, err = configsource.OpenInstance(*configPath, *instance); err != nil {
		fmt.Fprintln(stderr, "refract:", err)
		return 2
	}
	defer src.Close()
	override := func(c *config.Config) {
		if *listen != "" {
			c.Listen = *listen
		}
		if *admin != "" {
			c.Admin = *admin
		}
	}
	srv, err := server.New(context.Background(), server.Options{Source: src, Override: override, LogOutput: stderr,
		Build: telemetry.ReadBuild(buildVersion, buildCommit, buildDate)})
	if err != nil {
		fmt.Fprintln(stderr, "refract:", err)
		return 2
	}
	defer srv.Close()
	log := srv.Logger()

	ctx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	stopSignals := handleSignals(srv, stopRun)
	defer stopSignals()

	if *demo {
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := srv.WaitReady(wctx); err != nil {
				log.Error().Err(err).Msg("demo backends did not become ready")
				return
			}
			printDemo(stdout, srv.Addr("public"), srv.Addr("admin"))
		}()
	}
	if err := srv.Run(ctx); err != nil {
		log.Error().Err(err).Msg("refract stopped")
		return 1
	}
	log.Info().Msg("refract stopped cleanly")
	return 0
}

// handleSignals maps signals to the server: SIGHUP reloads the config;
// the first SIGINT or SIGTERM starts the drain (stop), a second one cuts
// the drain period short. The returned func stops listening.
func handleSignals(srv *server.Server, stop func()) func() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	reload := make(chan struct{}, 1) // SIGHUPs during a reload coalesce into one more
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-reload:
				_ = srv.Reload(context.Background()) // logged and counted by the server
			}
		}
	}()
	go func() {
		stopping := false
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				switch {
				case sig == syscall.SIGHUP:
					select {
					case reload <- struct{}{}:
					default:
					}
				case !stopping:
					stopping = true
					stop()
				default:
					srv.EndDrain()
				}
			}
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// demoConfig starts the example backends on free loopback ports and returns
// a config that serves them.
func demoConfig() ([]byte, func(), error) {
	// The documented build ships its proto comments, so /openapi.json
	// shows them.
	lib, err := examples.StartLibraryDocumented("127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("demo: library backend: %w", err)
	}
	echo, err := examples.StartEcho("127.0.0.1:0")
	if err != nil {
		lib.Stop()
		return nil, nil, fmt.Errorf("demo: echo backend: %w", err)
	}
	yaml := fmt.Sprintf(`
log: {format: console}
drain_period: 0s  # nothing balances load onto a demo: Ctrl-C stops it at once
upstreams:
  - name: library
    static: [%q]
  - name: echo
    static: [%q]
    streams:
      framing: {echo.v1.EchoService.Flood: json_array}  # docs/streaming.md's JSON array example
`, lib.Addr, echo.Addr)
	return []byte(yaml), func() { lib.Stop(); echo.Stop() }, nil
}

func printDemo(w io.Writer, listen, admin string) {
	base := "http://" + listen
	fmt.Fprintf(w, `
refract demo is up: the library and echo example backends, reflected and served at %[1]s

Try:
  curl -s %[1]s/v1/shelves
  curl -s %[1]s/v1/shelves/1/books/1
  curl -s '%[1]s/v1/shelves/1/books?genre=FICTION&page_size=1'
  curl -s -X POST %[1]s/v1/shelves/1/books -H 'Content-Type: application/json' -d '{"title":"Dune","author":"Frank Herbert","pageCount":"412"}'
  curl -s -X PATCH %[1]s/v1/shelves/1/books/2 -H 'Content-Type: application/json' -d '{"title":"A New Title"}'
  curl -s %[1]s/v1/shelves/9
  curl -s -X POST %[1]s/echo.v1.EchoService/Echo -H 'Content-Type: application/json' -d '{"message":"hello"}'
  curl -sN -X POST %[1]s/echo.v1.EchoService/Expand -H 'Content-Type: application/json' -d '{"text":"tick","count":5,"intervalMs":500}'
  curl -sN -X POST %[1]s/echo.v1.EchoService/Expand -H 'Accept: text/event-stream' -H 'Content-Type: application/json' -d '{"text":"tick","count":5,"intervalMs":500}'
  printf '{"message":"a"}\n{"message":"b"}\n' | curl -s -X POST %[1]s/echo.v1.EchoService/Collect -H 'Content-Type: application/x-ndjson' --data-binary @-
  curl -s %[1]s/openapi.json
  curl -s %[2]s/admin/routes
  and the dashboard: %[2]s/

Ctrl-C stops it.
`, base, "http://"+admin)
}
