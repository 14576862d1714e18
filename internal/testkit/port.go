package testkit

import (
	"net"
	"sync"
	"testing"
)

// FreeAddr returns a loopback address ("127.0.0.1:port") that nothing
// listens on at the moment it returns: for a server the test starts later
// at a known address, or for a peer that must refuse connections. Another
// process may take the port in between; tests accept that small race.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return freeTCPAddr(t).String()
}

// FreePort is FreeAddr's port number, for programs configured by port.
func FreePort(t testing.TB) int {
	t.Helper()
	return freeTCPAddr(t).Port
}

// handedOut holds the ports FreeAddr and FreePort returned in this test
// binary: a port closed here can be the kernel's next answer too, and two
// servers of one test (a Consul agent's HTTP and RPC ports, two gateway
// processes' listeners) must not be given the same one.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

func freeTCPAddr(t testing.TB) *net.TCPAddr {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().(*net.TCPAddr)
		l.Close()
		if !handedOut.ports[addr.Port] {
			handedOut.ports[addr.Port] = true
			return addr
		}
	}
}
