package testkit

import (
	"net"
	"strconv"
	"testing"
	"time"
)

func TestFreeAddrRefusesThenListens(t *testing.T) {
	addr := FreeAddr(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on %s", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the free address %s cannot be listened on: %v", addr, err)
	}
	l.Close()
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("the free port %d cannot be listened on: %v", p, err)
	}
	l.Close()
}
