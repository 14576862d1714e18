package setup

import (
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// Configs with the same Redis and authorizer settings share one client
// and one connection, which close with the last config using them; other
// settings get their own.
func TestStateSharesConnectionsBySettings(t *testing.T) {
	build := func(st *State, addr string) *policies {
		t.Helper()
		cfg, err := config.Parse([]byte(`
redis: {addr: "127.0.0.1:1"}
ext_authz: {grpc: {addr: "` + addr + `"}}
upstreams: [{name: library, static: ["127.0.0.1:1"]}]
`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := buildPolicies(cfg, zerolog.Nop(), zerolog.Nop(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := NewState(zerolog.Nop())
	a, b := build(st, "127.0.0.1:2"), build(st, "127.0.0.1:2")
	if a.redis != b.redis || a.extAuthz != b.extAuthz {
		t.Fatal("the same settings got their own connections")
	}
	c := build(st, "127.0.0.1:3")
	if c.extAuthz == a.extAuthz || c.redis != a.redis {
		t.Fatal("the authorizer's new address shares the old connection, or the same Redis does not")
	}
	count := func() int { st.mu.Lock(); defer st.mu.Unlock(); return len(st.shared) }
	if n := count(); n != 3 {
		t.Fatalf("%d shared connections, want 3 (redis, two authorizers)", n)
	}
	_ = a.Close()
	_ = a.Close() // a second Close gives back nothing more
	if n := count(); n != 3 {
		t.Fatalf("after the first config closed: %d shared connections, want 3", n)
	}
	_ = b.Close()
	if n := count(); n != 2 {
		t.Fatalf("after both configs of the first authorizer closed: %d, want 2", n)
	}
	_ = c.Close()
	if n := count(); n != 0 {
		t.Fatalf("after every config closed: %d, want 0", n)
	}
}
