package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/refract-gateway/refract/examples"
)

// StartFunc starts a backend; examples.StartLibrary and examples.StartEcho are ones.
type StartFunc func(addr string, opts ...grpc.ServerOption) (*examples.Backend, error)

// Main runs the command called name: it parses args (without the program name) for
// -addr (default defaultAddr), starts the backend, logs every call to stderr, and
// stops gracefully on SIGINT or SIGTERM or when ctx is done. It returns the process
// exit code: 0 after a stop request, 1 if the backend could not start or failed, 2 for
// bad flags.
func Main(ctx context.Context, name, defaultAddr string, start StartFunc, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr, "`host:port` to listen on; port 0 picks a free port")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %v\n", name, fs.Args())
		return 2
	}

	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.RFC3339, NoColor: !isTerminal(stderr)}).
		With().Timestamp().Str("server", name).Logger()
	b, err := start(*addr,
		grpc.ChainUnaryInterceptor(logUnary(log)),
		grpc.ChainStreamInterceptor(logStream(log)))
	if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return 1
	}
	log.Info().Str("addr", b.Addr).Msg("serving with reflection and health; stop with Ctrl-C")

	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	select {
	case <-ctx.Done():
		log.Info().Msg("stopping")
		b.Stop()
		log.Info().Msg("stopped")
		return 0
	case <-b.Done():
		b.Stop()
		log.Error().Err(b.Err()).Msg("serving failed")
		return 1
	}
}

// logUnary logs each unary call once it has finished: method, code and duration.
func logUnary(log zerolog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		began := time.Now()
		resp, err := handler(ctx, req)
		logCall(log, info.FullMethod, began, err)
		return resp, err
	}
}

// logStream logs each streaming call once it has finished.
func logStream(log zerolog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		began := time.Now()
		err := handler(srv, ss)
		logCall(log, info.FullMethod, began, err)
		return err
	}
}

// isTerminal reports whether w is a terminal, where colour codes help; in a file or a
// pipe they are noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// logCall logs one finished call.
func logCall(log zerolog.Logger, method string, began time.Time, err error) {
	log.Info().Str("method", method).Str("code", status.Code(err).String()).
		Dur("took", time.Since(began)).Err(err).Msg("call")
}
