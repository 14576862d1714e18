package serve

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/echo/echopb"
	"github.com/refract-gateway/refract/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Wrap the start function to learn the port picked for ":0".
	addrs := make(chan string, 1)
	start := func(addr string, opts ...grpc.ServerOption) (*examples.Backend, error) {
		b, err := examples.StartEcho(addr, opts...)
		if err == nil {
			addrs <- b.Addr
		}
		return b, err
	}
	var stderr testkit.SyncBuffer
	code := make(chan int, 1)
	go func() { code <- Main(ctx, "echo-server", "127.0.0.1:0", start, nil, &stderr) }()

	var addr string
	select {
	case addr = <-addrs:
	case c := <-code:
		t.Fatalf("Main returned %d before serving: %s", c, stderr.String())
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := echopb.NewEchoServiceClient(conn).Echo(ctx, &echopb.EchoRequest{Message: "hi"})
	if err != nil || resp.GetMessage() != "hi" {
		t.Fatalf("Echo = %v, %v", resp, err)
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit code %d, want 0", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
	log := stderr.String()
	for _, want := range []string{"serving", addr, "/echo.v1.EchoService/Echo", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"-nope"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-h"}, 0},
		{[]string{"-addr", "not an address"}, 1},
	}
	for _, tc := range tests {
		var stderr testkit.SyncBuffer
		if got := Main(t.Context(), "echo-server", "127.0.0.1:0", examples.StartEcho, tc.args, &stderr); got != tc.want {
			t.Errorf("Main(%q) = %d, want %d; stderr:\n%s", tc.args, got, tc.want, stderr.String())
		}
	}
}
